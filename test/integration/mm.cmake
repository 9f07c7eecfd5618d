# --- PV memory (issue 3): the adversarial test domain, one area per test ------
# Each boots test_mm_attack with `test=AREA`; every check prints a line, a
# failed one contains "FAILED", and the domain prints "mm_attack: ok" only
# when every check of the area held.
set(MM_ATTACK $<TARGET_FILE:test_mm_attack>)
set(MM_AREAS pt pin batch pos space mem)
foreach(area ${MM_AREAS})
  add_hv_test(mm_attack_${area} LABELS mm TIMEOUT 20 CMDLINE root_max_mem=20971520
      MODULES "${MM_ATTACK}::mm_attack test=${area}"
      EXPECT "[d0] mm_attack: area ${area}: all checks held" "[d0] mm_attack: ok (test=${area})"
      FORBID "FAILED" "hypervisor fault" "killed")
endforeach()
# Every area in one domain, one after the other: after all the attacks the
# hypervisor is healthy and the positive areas still pass.
set(mm_all_expect)
foreach(area ${MM_AREAS})
  list(APPEND mm_all_expect "[d0] mm_attack: area ${area}: all checks held")
endforeach()
add_hv_test(mm_attack_all LABELS mm TIMEOUT 20 CMDLINE root_max_mem=20971520
    MODULES "${MM_ATTACK}::mm_attack test=all"
    EXPECT ${mm_all_expect} "[d0] mm_attack: ok (test=all)"
    FORBID "FAILED" "hypervisor fault" "killed")

# Writes to read-only hypervisor-provided or page-table memory kill the domain.
add_hv_test(mm_write_m2p LABELS mm EXIT root_crash TIMEOUT 20
    MODULES "${MM_ATTACK}::mm_attack test=write_m2p"
    EXPECT "[d0] mm_attack: about to write 0xffff808000000000"
           "d0 (root): killed: #PF page fault at rip" "address 0xffff808000000000, error code 0x7"
    FORBID "did not fault" "hypervisor fault")
add_hv_test(mm_write_table LABELS mm EXIT root_crash TIMEOUT 20
    MODULES "${MM_ATTACK}::mm_attack test=write_table"
    EXPECT "[d0] mm_attack: about to write 0x200008"
           "d0 (root): killed: #PF page fault at rip" "address 0x200008, error code 0x7"
    FORBID "did not fault" "hypervisor fault")

# Frames of another domain (a second domain the hypervisor builds for this
# test and never starts) can be neither mapped, typed, nor taken.
add_hv_test(mm_attack_foreign LABELS mm TIMEOUT 20 TEST_IMAGE CMDLINE "test_victim"
    MODULES "${MM_ATTACK}::mm_attack test=pt victim"
    EXPECT "(victim) built and never started" "[d0] mm_attack: another domain's frame: mfn"
           "map another domain's frame writable" "[d0] mm_attack: ok (test=pt)"
    FORBID "FAILED" "hypervisor fault" "killed")
