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

# echo: the root builds its own image as a peer and they echo messages of
# every length 0..1016 over a gk_channel (a granted page with two rings and
# an event channel); every reply is checked byte for byte. The peer first
# checks that a ref of 0, a port out of range and a misaligned address are
# refused before any hypercall (HV_EINVAL) and a ref that is not a grant by
# the hypervisor (HV_ENOENT), nothing left mapped. A receive with a 20 ms
# deadline times out on time; a reply within its deadline arrives. At the end the peer
# corrupts its ring: the root's channel must report disconnected, not crash.
# In virtual time (-icount): "on time" (within 50 ms of the deadline) must
# not depend on how busy the host is.
set(GK_ECHO $<TARGET_FILE:echo>)
add_hv_test(guestkit_echo LABELS guestkit TIMEOUT 90 QEMU_ARGS "-icount" "shift=0,sleep=off"
    MODULES "${GK_ECHO}::echo" "${GK_ECHO}::peer"
    EXPECT "[d1] echo: peer: bad connects -> -3 -3 -2 -3" "[d0] echo: the peer connected: ok" "[d0] echo: a message too long is refused: ok"
           "[d0] echo: every reply was the message sent: ok"
           "[d0] echo: a receive with a deadline times out at the deadline: ok"
           "[d0] echo: a reply within the deadline is received: ok"
           "[d0] echo: a corrupt ring disconnects the channel: ok"
           "[d0] echo: a disconnected channel stays disconnected: ok"
           "[d0] echo: close our end (grant ended): ok" "[d0] echo: ok"
           "d1 (peer): shut down: poweroff" "d0 (root): shut down: poweroff"
    EXPECT_RE "\\[d0\\] echo: 1000 replies checked \\(499500 bytes each way\\)"
    FORBID "FAILED" "killed" "hypervisor fault")

# counter2: VCPUs of the root domain add to a shared counter under a gk
# spinlock (exact total), pass a message by IPI (handlers run on the right
# VCPU), stop when their function returns and start again. One physical CPU
# (the hypervisor time-slices the VCPUs) and four.
set(GK_COUNTER2 $<TARGET_FILE:counter2>)
set(GK_COUNTER2_EXPECT "[d0] counter2: restarted VCPU 1 ran and stopped" "[d0] counter2: ok"
    "d0 (root): shut down: poweroff")
add_hv_test(guestkit_counter2 LABELS guestkit TIMEOUT 90 SMP 1
    MODULES "${GK_COUNTER2}::counter2 n=100000"
    EXPECT "[d0] counter2: counter 200000, expected 200000, per-VCPU sum 200000"
           "[d0] counter2: IPI message 0x600dcafe12345678 reached VCPU 1; answer 0x600dcafe12345679 reached VCPU 0"
           ${GK_COUNTER2_EXPECT}
    FORBID "FAILED" "killed" "hypervisor fault")
add_hv_test(guestkit_counter2_smp4 LABELS guestkit TIMEOUT 90 SMP 4
    MODULES "${GK_COUNTER2}::counter2 n=100000"
    EXPECT "[d0] counter2: counter 200000, expected 200000, per-VCPU sum 200000"
           ${GK_COUNTER2_EXPECT}
    FORBID "FAILED" "killed" "hypervisor fault")
# Four VCPUs contending for the lock, on four CPUs.
add_hv_test(guestkit_counter2_4vcpus_smp4 LABELS guestkit TIMEOUT 90 SMP 4
    MODULES "${GK_COUNTER2}::counter2 n=50000 vcpus=4"
    EXPECT "[d0] counter2: counter 200000, expected 200000, per-VCPU sum 200000"
           "[d0] counter2: VCPU 3 done, 50000 additions" ${GK_COUNTER2_EXPECT}
    FORBID "FAILED" "killed" "hypervisor fault")

# virtio-probe: the root finds a virtio-PCI modern device among its PCI
# capabilities, parses its virtio capabilities through HC_PCI_OP, maps the
# common configuration through the BAR's MMIO capability, reads the device
# features and resets the device; then the refusals a domain without the
# rights gets (read-only and no-DMA copies, empty and non-PCI slots,
# read-only and missing MMIO capabilities). virtio-rng needs no backend;
# virtio-blk gets a small raw image written by the test.
add_hv_test(guestkit_virtio_probe_rng LABELS guestkit TIMEOUT 60
    MODULES "$<TARGET_FILE:virtio-probe>::virtio-probe"
    QEMU_ARGS "-device" "virtio-rng-pci,disable-legacy=on"
    EXPECT_RE "\\[d0\\] virtio-probe: virtio device 1af4:1044 at 00:[0-9a-f][0-9a-f]\\.0"
    EXPECT "[d0] virtio-probe: VIRTIO_F_VERSION_1 offered -> 1"
           "[d0] virtio-probe: status after reset 0"
           "[d0] virtio-probe: a write through the read-only copy -> -1"
           "[d0] virtio-probe: ok" "d0 (root): shut down: poweroff"
    FORBID "FAILED" "killed" "hypervisor fault")
set(GK_VPROBE_DISK ${CMAKE_CURRENT_BINARY_DIR}/virtio-probe-disk.img)
if(NOT EXISTS ${GK_VPROBE_DISK})
  string(REPEAT "virtio-probe-dsk" 4096 GK_VPROBE_FILL) # 64 KiB: 128 sectors
  file(WRITE ${GK_VPROBE_DISK} "${GK_VPROBE_FILL}")
endif()
add_hv_test(guestkit_virtio_probe_blk LABELS guestkit TIMEOUT 60
    MODULES "$<TARGET_FILE:virtio-probe>::virtio-probe"
    QEMU_ARGS "-drive" "if=none,id=vprobe,file=${GK_VPROBE_DISK},format=raw"
              "-device" "virtio-blk-pci,drive=vprobe,disable-legacy=on"
    EXPECT_RE "\\[d0\\] virtio-probe: virtio device 1af4:1042 at 00:[0-9a-f][0-9a-f]\\.0"
    EXPECT "[d0] virtio-probe: VIRTIO_F_VERSION_1 offered -> 1"
           "[d0] virtio-probe: status after reset 0"
           "[d0] virtio-probe: enable bus mastering without DMA -> -1"
           "[d0] virtio-probe: ok" "d0 (root): shut down: poweroff"
    FORBID "FAILED" "killed" "hypervisor fault")

# MP-safety of guest-kit's malloc family and memory manager: four VCPUs
# allocate, grow the heap, and map/unmap frames at once, on one CPU and on
# four; the heap is checked and no frame is lost. Under -icount (one TCG
# thread): four VCPU threads on a busy 2-core host did not finish 400 rounds
# in 90 s (every map/unmap shoots down the other CPUs' TLBs); round robin
# finishes in about 27 s there. The work is bounded by instructions; the
# limit only catches a hang: 600 s, since a full suite at load 11 took 87 s
# for smp4 and at load 13 it failed once (the default limit is 300 s).
foreach(smp 1 4)
  add_hv_test(guestkit_heap_mp_smp${smp} LABELS guestkit TIMEOUT 600 SMP ${smp}
      QEMU_ARGS "-icount" "shift=0,sleep=off"
      MODULES "$<TARGET_FILE:heapgrow>::heapgrow mode=mp vcpus=4 rounds=400"
      EXPECT_RE "\\[d0\\] heapgrow: mp: 4 VCPUs x 400 rounds, heap [0-9]+ KiB after [1-9][0-9]* grows, 0 allocated, check ok"
      EXPECT "[d0] heapgrow: done" "d0 (root): shut down: poweroff"
      FORBID "FAILED" "killed" "hypervisor fault" "panic")
endforeach()

# assert() and abort() of the guest-kit libc stop the domain as crashed with
# the expression and place; with NDEBUG assert() does nothing.
set(GK_LIBC_STOP $<TARGET_FILE:test_libc_stop>)
add_hv_test(guestkit_libc_assert LABELS guestkit EXIT root_crash TIMEOUT 20
    MODULES "${GK_LIBC_STOP}::libc_stop stop=assert"
    EXPECT_RE "\\[d0\\] panic: assertion failed: two \\+ two == 5 \\(.*libc_stop.c:[0-9]+\\)"
    EXPECT "d0 (root): shut down: crash"
    FORBID "FAILED" "hypervisor fault")
add_hv_test(guestkit_libc_assert_ndebug LABELS guestkit TIMEOUT 20
    MODULES "${GK_LIBC_STOP}::libc_stop stop=assert_ndebug"
    EXPECT "[d0] libc_stop: with NDEBUG a failing assert does nothing: 1"
           "d0 (root): shut down: poweroff"
    FORBID "FAILED" "hypervisor fault" "assertion failed")
add_hv_test(guestkit_libc_abort LABELS guestkit EXIT root_crash TIMEOUT 20
    MODULES "${GK_LIBC_STOP}::libc_stop stop=abort"
    EXPECT "[d0] panic: abort() called" "d0 (root): shut down: crash"
    FORBID "FAILED" "hypervisor fault")
