# --- guest-kit core-object API (events, time, grants, capabilities, console) --
# Included from test/integration/CMakeLists.txt (add_hv_test is defined there).
# The examples run as the root domain; each prints a finish line that only a
# run where every check held reaches.

# ticks: the wall clock, then 5 sleeps of 10 ms through gk_sleep_ms (timer
# VIRQ, upcalls, HC_BLOCK); a wake-up before its deadline is a failure.
set(GK_TICKS $<TARGET_FILE:ticks>)
add_hv_test(guestkit_ticks LABELS guestkit TIMEOUT 30
    MODULES "${GK_TICKS}::ticks"
    EXPECT_RE "\\[d0\\] ticks: wall clock 2[0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] "
    EXPECT "[d0] ticks: tick 1 at" "[d0] ticks: tick 5 at" "[d0] ticks done"
           "d0 (root): shut down: poweroff"
    FORBID "FAILED" "killed" "ticks: tick 6")
# Many short sleeps: 1 ms apart, 50 times.
add_hv_test(guestkit_ticks_fast LABELS guestkit TIMEOUT 30
    MODULES "${GK_TICKS}::ticks ticks=50 period_ms=1"
    EXPECT "[d0] ticks: tick 50 at" "[d0] ticks done" "d0 (root): shut down: poweroff"
    FORBID "FAILED" "killed")

# events: capabilities (identify, copy, revoke, delete), domain info, event
# channels (loopback inter-domain, IPI, masks, upcall masking, polling, the
# timer VIRQ, close), local grant checks and the console rings.
add_hv_test(guestkit_events LABELS guestkit TIMEOUT 30
    MODULES "$<TARGET_FILE:events>::events"
    EXPECT "[d0] events: send a -> b: ok" "[d0] events: unmask delivered it: ok"
           "[d0] events: enable delivered it: ok" "[d0] events: timer fired, not early: ok"
           "[d0] events: own output read back: ok"
           "[d0] events: slept the whole time: ok" "[d0] events: ok"
           "d0 (root): shut down: poweroff"
    FORBID "FAILED" "killed")
# The same on a machine with more CPUs (the domain still has one VCPU).
add_hv_test(guestkit_ticks_smp2 LABELS guestkit TIMEOUT 30 SMP 2
    MODULES "${GK_TICKS}::ticks ticks=20 period_ms=2"
    EXPECT "[d0] ticks: tick 20 at" "[d0] ticks done" FORBID "FAILED" "killed")
add_hv_test(guestkit_events_smp2 LABELS guestkit TIMEOUT 30 SMP 2
    MODULES "$<TARGET_FILE:events>::events"
    EXPECT "[d0] events: ok" FORBID "FAILED" "killed")
