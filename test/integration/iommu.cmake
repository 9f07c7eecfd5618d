# --- issue 14: device interrupts as event channels, IOMMU-confined DMA ---------
# Included from test/integration/CMakeLists.txt. Label `iommu`.
#
# iommu_attack: the hostile driver domain (test/guests/iommu_attack.c): the
# root builds a driver domain, gives it QEMU's virtio-blk function and a
# granted page, and the driver tries every DMA and MSI attack of the issue;
# with the IOMMU (the default of hvtest.py) each is refused and counted.
set(IOMMU_DISK ${CMAKE_CURRENT_BINARY_DIR}/iommu-disk.img)
if(NOT EXISTS ${IOMMU_DISK})
  string(REPEAT "virtio-blk-data\n" 65536 IOMMU_FILL)
  file(WRITE ${IOMMU_DISK} "${IOMMU_FILL}")
  unset(IOMMU_FILL)
endif()
set(IOMMU_ATTACK $<TARGET_FILE:test_iommu_attack>)
set(IOMMU_BLK "-drive" "if=none,id=vblk,file=${IOMMU_DISK},format=raw,snapshot=on"
    "-device" "virtio-blk-pci,drive=vblk,disable-legacy=on")

add_hv_test(iommu_attack LABELS iommu TIMEOUT 180 MEM 512M
    MODULES "${IOMMU_ATTACK}::iommu-attack" "${IOMMU_ATTACK}"
    QEMU_ARGS ${IOMMU_BLK}
    EXPECT "vtd: DMA remapping on"
           "iommu-attack: driver: DMA into its own page lands: ok"
           "iommu-attack: driver: DMA into a page of the root it was not given: the request finished"
           "iommu-attack: driver: DMA into the granted page while mapped lands: ok"
           "iommu-attack: driver: DMA into the granted page after unmapping it: the request finished"
           "iommu-attack: driver: DMA into a frame it gave back: the request finished"
           "iommu-attack: driver: DMA into the hypervisor's image: the request finished"
           "iommu-attack: driver: after it, a read into its own page works (0): ok"
           "iommu-attack: driver: a config write to the MSI-X control word is refused: ok"
           "iommu-attack: driver: a writable mapping of the MSI-X table is refused: ok"
           "iommu-attack: driver: more vectors than the MSI-X table has are refused: ok"
           "iommu-attack: driver: binding a vector beyond those set up is refused: ok"
           "iommu-attack: driver: 50 requests with the vector's port closed and re-bound under each: ok"
           "iommu-attack: root: the page it was not given is untouched: ok"
           "iommu-attack: root: and not the one made after it was unmapped: ok"
           "iommu-attack: root: the faults were counted for the driver: ok"
           "iommu-attack: root: the faulting function is stopped (bus mastering off): ok"
           "iommu-attack: root: ok" "d0 (root): shut down: poweroff"
    EXPECT_RE "iommu: DMA fault: 00:0[0-9a-f].0 write at 0x200000 .*domain 1"
    FORBID "FAILED" "hypervisor fault")

# A function whose DMA keeps faulting is stopped at its 16th fault
# (IOMMU_FAULT_STOP, hv/core/include/iommu.h): bus mastering off, detached,
# later fault records counted for nobody; its driver may turn it on again.
add_hv_test(iommu_fault_stop LABELS iommu TIMEOUT 180 MEM 512M
    MODULES "${IOMMU_ATTACK}::iommu-attack mode=faults" "${IOMMU_ATTACK}"
    QEMU_ARGS ${IOMMU_BLK}
    EXPECT "iommu-attack: driver: the hypervisor stopped the function for its faults (bus mastering off): ok"
           "iommu-attack: driver: a request after the stop does not complete: ok"
           "iommu-attack: driver: then a read into its own page works: ok"
           "iommu-attack: root: the page it was not given is untouched: ok"
           "iommu-attack: root: the driver's faults stopped at 16, when its function was stopped: ok"
           "iommu-attack: root: ok" "d0 (root): shut down: poweroff"
    EXPECT_RE "iommu: 00:0[0-9a-f].0 stopped \\(bus mastering off\\) after 16 DMA faults, domain 1"
    FORBID "FAILED" "hypervisor fault")

# The same without an IOMMU: the driver domain may not turn on bus mastering.
add_hv_test(iommu_attack_no_iommu LABELS iommu TIMEOUT 120 MEM 512M
    MODULES "${IOMMU_ATTACK}::iommu-attack expect=no-dma" "${IOMMU_ATTACK}"
    NO_IOMMU QEMU_ARGS ${IOMMU_BLK}
    EXPECT "iommu: no IOMMU: DMA for the root domain only"
           "iommu-attack: driver: bus mastering refused"
           "iommu-attack: root: ok" "d0 (root): shut down: poweroff"
    FORBID "FAILED" "hypervisor fault")

# And with iommu=off-unsafe: the attack on the root's page lands. This is
# the test failing without the protection, kept as a test that shows it.
add_hv_test(iommu_attack_off_unsafe LABELS iommu TIMEOUT 120 MEM 512M CMDLINE "iommu=off-unsafe"
    MODULES "${IOMMU_ATTACK}::iommu-attack expect=unconfined" "${IOMMU_ATTACK}"
    NO_IOMMU QEMU_ARGS ${IOMMU_BLK}
    EXPECT "iommu=off-unsafe"
           "iommu-attack: root: without an IOMMU the DMA into the page it was not given LANDED"
           "iommu-attack: root: ok"
    FORBID "hypervisor fault")

# An idle driver domain with an open device uses no CPU when it waits by
# interrupt (its CPU time over 10 s of virtual time, under -icount, below
# 100 ms: in practice a few hundred microseconds), and all of it polled.
# shift=4 (16 ns of virtual time per instruction) so that 10 s of polling
# is 6.25e8 instructions, not 1e10.
add_hv_test(iommu_idle_interrupts LABELS iommu TIMEOUT 180 MEM 512M
    MODULES "${IOMMU_ATTACK}::iommu-attack mode=idle" "${IOMMU_ATTACK}"
    QEMU_ARGS "-icount" "shift=4,sleep=off" ${IOMMU_BLK}
    EXPECT "iommu-attack: root: ok"
    EXPECT_RE "CPU time over 1[0-9][0-9][0-9][0-9] ms of waiting for its device \\(interrupts\\): [0-9]?[0-9]?[0-9]?[0-9]?[0-9] us"
    FORBID "FAILED" "hypervisor fault")
add_hv_test(iommu_idle_polled LABELS iommu TIMEOUT 180 MEM 512M
    MODULES "${IOMMU_ATTACK}::iommu-attack mode=idle polled" "${IOMMU_ATTACK}"
    QEMU_ARGS "-icount" "shift=4,sleep=off" ${IOMMU_BLK}
    EXPECT "iommu-attack: root: ok"
    EXPECT_RE "CPU time over 1[0-9][0-9][0-9][0-9] ms of waiting for its device \\(polled\\): [0-9]{7,} us"
    FORBID "FAILED" "hypervisor fault")

# guest-kit's virtio-blk driver both ways on the same disk: interrupts
# required (MSI-X through interrupt remapping), and the polled option.
set(IOMMU_VDRV $<TARGET_FILE:virtio-drivers>)
foreach(m interrupts polled)
  add_hv_test(iommu_virtio_blk_${m} LABELS iommu TIMEOUT 90
      MODULES "${IOMMU_VDRV}::virtio-drivers ${m}"
      QEMU_ARGS "-drive" "if=none,id=vblk,file=${IOMMU_DISK},format=raw,snapshot=on"
                "-device" "virtio-blk-pci,drive=vblk,disable-legacy=on"
      EXPECT "[d0] virtio-drivers: blk: every sector holds the pattern: ok"
             "[d0] virtio-drivers: ok" "d0 (root): shut down: poweroff"
      EXPECT_RE "virtio-blk: measured sequential read 8192 KiB in [0-9]+ us: [0-9]+ KiB/s \\(TCG, 32 KiB per request, ${m}\\)"
      FORBID "FAILED" "hypervisor fault" "DMA fault")
endforeach()

# A shared level-triggered line: two virtio-blk functions without MSI-X
# (vectors=0) on one slot, so one INTx line; the root drives one, a driver
# domain the other, both by interrupt at once; the line is unmasked only
# after both EOI (the order rules themselves: test_evtchn's
# test_shared_level_line); then the root stops EOIing and the driver's
# reads go on (the hypervisor releases a line after 10 ms without EOIs).
add_hv_test(iommu_intx_shared LABELS iommu TIMEOUT 180 MEM 512M
    MODULES "${IOMMU_ATTACK}::iommu-attack mode=intx" "${IOMMU_ATTACK}"
    QEMU_ARGS "-drive" "if=none,id=vblka,file=${IOMMU_DISK},format=raw,snapshot=on,readonly=on"
              "-drive" "if=none,id=vblkb,file=${IOMMU_DISK},format=raw,snapshot=on,readonly=on"
              "-device" "virtio-blk-pci,drive=vblka,disable-legacy=on,vectors=0,addr=0x4.0,multifunction=on"
              "-device" "virtio-blk-pci,drive=vblkb,disable-legacy=on,vectors=0,addr=0x4.1"
    EXPECT "iommu-attack: root: both functions share one PCI line: ok"
           "iommu-attack: root: 300 reads by the shared INTx line"
           "iommu-attack: driver: the function has no MSI-X (INTx only): ok"
           "iommu-attack: driver: binding a line its IRQ capability does not cover is refused: ok"
           "iommu-attack: driver: 600 reads by the shared INTx line: ok"
           "iommu-attack: root: its line port closed and re-bound 50 times under the driver's load: ok"
           "iommu-attack: root: tell the driver it no longer acknowledges the line: ok"
           "iommu-attack: driver: 20 reads after the root stopped acknowledging the shared line: ok"
           "a sharer did not EOI within 10 ms: line unmasked"
           "iommu-attack: root: ok" "d0 (root): shut down: poweroff"
    FORBID "FAILED" "hypervisor fault" "iommu: DMA fault")

# Device interrupts follow the VCPU their port is bound to (test/guests/
# iommu_smp.c): 2 CPUs under -icount, the root reads two virtio-blk
# functions by MSI-X and the test image counts which CPU took each step's
# interrupts (HV_TEST_IRQS): pinned, after the scheduler moved the VCPU,
# after the port was moved to another VCPU, and two devices at once on two
# CPUs.
add_hv_test(iommu_smp_follow LABELS iommu smp TEST_IMAGE SMP 2 TIMEOUT 120 MEM 512M
    MODULES "$<TARGET_FILE:test_iommu_smp>::iommu-smp"
    QEMU_ARGS "-icount" "shift=0,sleep=off"
              "-drive" "if=none,id=vblka,file=${IOMMU_DISK},format=raw,snapshot=on,readonly=on"
              "-drive" "if=none,id=vblkb,file=${IOMMU_DISK},format=raw,snapshot=on,readonly=on"
              "-device" "virtio-blk-pci,drive=vblka,disable-legacy=on"
              "-device" "virtio-blk-pci,drive=vblkb,disable-legacy=on"
    EXPECT_RE "iommu-smp: pinned .*: CPU 0 took [1-9][0-9]+, CPU 1 took 0 device interrupts: ok"
              "iommu-smp: migrated .*: CPU 0 took 0, CPU 1 took [1-9][0-9]+ device interrupts: ok"
              "iommu-smp: rebound .*: CPU 0 took [1-9][0-9]+, CPU 1 took 0 device interrupts: ok"
              "iommu-smp: spread .*: CPU 0 took [1-9][0-9]+, CPU 1 took [1-9][0-9]+ device interrupts: ok"
    EXPECT "[d0] iommu-smp: ok" "d0 (root): shut down: poweroff"
    FORBID "FAILED" "hypervisor fault" "DMA fault")

# A device forging message interrupts by DMA into the interrupt window
# 0xfee00000-0xfeefffff (the driver writes the message's data to its disk
# and reads that sector so that the first dword lands at the window): in
# the compatibility format with the root's vector, in the remappable format
# through the root's entry and through I/O APIC line 0's, and into the
# hypervisor's IOMMU-fault vector. VT-d with interrupt remapping on blocks
# each (compatibility format with CFI clear; an entry whose source-id check
# fails). QEMU 7.2 delivers all of them: it passes compatibility-format
# writes through and DMA writes carry no requester id, so no entry's check
# applies. This test shows that gap (the root's port is raised, the
# hypervisor counts a device interrupt for each forged message: the driver
# polls, so its own requests raise none) and that nothing worse follows: the
# hypervisor, both devices and both domains go on.
add_hv_test(iommu_msi_forge LABELS iommu TEST_IMAGE TIMEOUT 180 MEM 512M
    MODULES "${IOMMU_ATTACK}::iommu-attack mode=forge polled" "${IOMMU_ATTACK}"
    QEMU_ARGS "-drive" "if=none,id=vblka,file=${IOMMU_DISK},format=raw,snapshot=on,readonly=on"
              "-drive" "if=none,id=vblkb,file=${IOMMU_DISK},format=raw,snapshot=on"
              "-device" "virtio-blk-pci,drive=vblka,disable-legacy=on"
              "-device" "virtio-blk-pci,drive=vblkb,disable-legacy=on"
    EXPECT "iommu: interrupt remapping on"
           "iommu-attack: root: its own device by MSI-X: ok"
           "iommu-attack: driver: forged MSI (compatible, the root's vector): 0xfee00000 <- 0x50: request 0, 1 device interrupts"
           "iommu-attack: driver: forged MSI (remappable, the root's entry): 0xfee00410 <- 0: request 0, 1 device interrupts"
           "iommu-attack: driver: forged MSI (remappable, line 0's entry): 0xfee00010 <- 0: request 0, 1 device interrupts"
           "iommu-attack: driver: forged MSI (compatible, IOMMU fault vector): 0xfee00000 <- 0xe0: request 0, 0 device interrupts"
           "iommu-attack: driver: after them, a read into its own page works: ok"
           "iommu-attack: root: a forged message REACHED its vector's port (the emulator's gap)"
           "iommu-attack: root: then its own device reads by interrupt: ok"
           "iommu-attack: root: ok" "d0 (root): shut down: poweroff"
    FORBID "FAILED" "hypervisor fault")
