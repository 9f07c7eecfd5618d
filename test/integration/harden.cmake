# Hostile-guest tests of issue 20 (test/guests/harden.c): each fails on the
# hypervisor before its fix. The root is booted with the image twice: as
# itself and as module 1, from which it builds its children.
set(HARDEN $<TARGET_FILE:test_harden>)
set(HARDEN_ICOUNT "-icount" "shift=0,sleep=off")
set(HARDEN_FORBID "FAILED" "hypervisor fault")

# Item 3: a 2-VCPU domain names VCPUs 2..7 (and beyond) in every call that
# takes a VCPU number: HV_EINVAL each (before the fix: HV_OK for 2..7).
add_hv_test(harden_vcpus LABELS core TIMEOUT 60 QEMU_ARGS ${HARDEN_ICOUNT}
    MODULES "${HARDEN}::harden test=vcpus" "${HARDEN}::child"
    EXPECT "[d1] harden: vcpus: all checks held" "[d0] harden: vcpus: ok"
    FORBID ${HARDEN_FORBID})
