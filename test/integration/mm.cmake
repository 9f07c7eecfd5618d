# --- PV memory (issue 3): the adversarial test domain, one area per test ------
# Each boots test_mm_attack with `test=AREA`; every check prints a line, a
# failed one contains "FAILED", and the domain prints "mm_attack: ok" only
# when every check of the area held.
set(MM_ATTACK $<TARGET_FILE:test_mm_attack>)
foreach(area pt pin batch pos space mem all)
  add_hv_test(mm_attack_${area} LABELS mm TIMEOUT 20
      MODULES "${MM_ATTACK}::mm_attack test=${area}"
      EXPECT "[d0] mm_attack: area ${area}: all checks held" "[d0] mm_attack: ok (test=${area})"
      FORBID "FAILED" "hypervisor fault" "killed")
endforeach()
