# --- core objects (issue 4): capabilities, events, timers, consoles, domains --
# test_core runs as the root domain; one test per area plus all of them in
# one boot. Every check prints a line; a failed one contains "FAILED".
set(CORE_GUEST $<TARGET_FILE:test_core>)
set(CORE_AREAS caps evtchn timer console domctl revoke irq vcpu probe)
# Virtual time (-icount shift=0,sleep=off): the timer test measures wake-up
# latency in the guest's own time, deterministically.
set(CORE_ICOUNT "-icount" "shift=0,sleep=off")
foreach(area ${CORE_AREAS})
  add_hv_test(core_${area} LABELS core TIMEOUT 90 QEMU_ARGS ${CORE_ICOUNT}
      MODULES "${CORE_GUEST}::core test=${area}"
      EXPECT "[d0] core: area ${area}: all checks held" "[d0] core: ok (test=${area})"
      FORBID "FAILED" "hypervisor fault")
endforeach()
set(core_all_expect)
foreach(area ${CORE_AREAS})
  list(APPEND core_all_expect "[d0] core: area ${area}: all checks held")
endforeach()
add_hv_test(core_all LABELS core TIMEOUT 90 QEMU_ARGS ${CORE_ICOUNT}
    MODULES "${CORE_GUEST}::core test=all"
    EXPECT ${core_all_expect} "[d0] core: ok (test=all)"
    FORBID "FAILED" "hypervisor fault")

# Two domains built by the root with guest-kit's builder exchange a million
# messages through a granted page and an event channel, with no loss.
set(PINGPONG $<TARGET_FILE:test_pingpong>)
add_hv_test(core_two_domains LABELS core TIMEOUT 120 QEMU_ARGS ${CORE_ICOUNT}
    MODULES "${PINGPONG}::pingpong" "${PINGPONG}::peer"
    EXPECT "[d0] pingpong: ok" "d1 (peer): shut down: reboot"
    EXPECT_RE "peer saw 1000000, sum matches"
    FORBID "FAILED" "hypervisor fault" "killed")
