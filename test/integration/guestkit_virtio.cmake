# --- guest-kit virtio drivers (virtio-blk, virtio-net, virtio-console) --------
# Included from test/integration/CMakeLists.txt (add_hv_test, HVTEST and
# HV_TEST_LOGDIR are defined there). The virtio-drivers example runs as the
# root domain and drives the devices QEMU is given with guest-kit's drivers
# (gk/virtio_*.h), completion polled; every check prints a line and a failed
# one "FAILED".
set(GK_VDRV $<TARGET_FILE:virtio-drivers>)

# virtio-blk on a 1 MiB raw image of a known pattern ("virtio-blk-data\n"
# repeated). snapshot=on: the sectors the example writes go to a temporary
# overlay, so the image keeps its pattern for the next run.
set(GK_VDRV_DISK ${CMAKE_CURRENT_BINARY_DIR}/virtio-drivers-disk.img)
if(NOT EXISTS ${GK_VDRV_DISK})
  string(REPEAT "virtio-blk-data\n" 65536 GK_VDRV_FILL)
  file(WRITE ${GK_VDRV_DISK} "${GK_VDRV_FILL}")
  unset(GK_VDRV_FILL)
endif()
add_hv_test(guestkit_virtio_blk LABELS guestkit TIMEOUT 60
    MODULES "${GK_VDRV}::virtio-drivers"
    QEMU_ARGS "-drive" "if=none,id=vblk,file=${GK_VDRV_DISK},format=raw,snapshot=on"
              "-device" "virtio-blk-pci,drive=vblk,disable-legacy=on"
    EXPECT "[d0] virtio-drivers: blk: init: ok"
           "[d0] virtio-drivers: blk: capacity is 2048 sectors: ok"
           "[d0] virtio-drivers: blk: every sector holds the pattern: ok"
           "[d0] virtio-drivers: blk: a read past the end is refused: ok"
           "[d0] virtio-drivers: blk: sectors 5-6 read back as written: ok"
           "[d0] virtio-drivers: blk: sectors 4 and 7 unchanged: ok"
           "[d0] virtio-drivers: ok" "d0 (root): shut down: poweroff"
    EXPECT_RE "virtio-blk: measured sequential read 8192 KiB in [0-9]+ us"
    FORBID "FAILED" "killed" "hypervisor fault")

# Two virtio-net devices joined on one QEMU hub: frames each way (60..1514
# bytes), each compared byte for byte, none echoed to the sender, and a
# burst of 16 queued before any is received.
add_hv_test(guestkit_virtio_net LABELS guestkit TIMEOUT 60
    MODULES "${GK_VDRV}::virtio-drivers"
    QEMU_ARGS "-netdev" "hubport,id=n0,hubid=0" "-netdev" "hubport,id=n1,hubid=0"
              "-device" "virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:00:00:01"
              "-device" "virtio-net-pci,netdev=n1,disable-legacy=on,mac=52:54:00:00:00:02"
    EXPECT "[d0] virtio-drivers: net0: init: ok" "[d0] virtio-drivers: net1: init: ok"
           "[d0] virtio-net: net0 mac 52:54:00:00:00:01"
           "[d0] virtio-net: net1 mac 52:54:00:00:00:02"
           "[d0] virtio-drivers: net: 100 frames net0 -> net1 arrive intact: ok"
           "[d0] virtio-drivers: net: 100 frames net1 -> net0 arrive intact: ok"
           "[d0] virtio-drivers: net: a burst of 16 frames arrives intact and in order: ok"
           "[d0] virtio-drivers: ok" "d0 (root): shut down: poweroff"
    FORBID "FAILED" "killed" "hypervisor fault")

# virtio-console port 0 on a "pipe" chardev over two regular files (QEMU 7.2's
# file chardev has no input): the wrapper writes PREFIX.in before the run
# and checks that PREFIX.out holds what the example wrote; the example reads
# the input line back through the receive queue.
if(TARGET hv.elf)
  set(GK_VCON_DIR ${CMAKE_CURRENT_BINARY_DIR}/guestkit_virtio_console)
  file(MAKE_DIRECTORY ${GK_VCON_DIR})
  function(gk_virtio_console_test name)
    cmake_parse_arguments(V "" "" "QEMU_ARGS;EXPECT" ${ARGN})
    set(pipe ${GK_VCON_DIR}/${name})
    set(cmd ${HV_REAP} ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/guestkit_virtio_file.py
        --file ${pipe}.out --input ${pipe}.in "input-for-virtio-console\n"
        --contains "virtio-console: hello from the root domain\n"
        --contains "xyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv"
        --contains "virtio-console: end\n"
        -- ${Python3_EXECUTABLE} ${HVTEST} --name ${name} --hv $<TARGET_FILE:hv.elf>
        --mkiso ${PROJECT_SOURCE_DIR}/scripts/mkiso.sh --logdir ${HV_TEST_LOGDIR} --timeout ${HV_TEST_HANG_S}
        --module "${GK_VDRV}::virtio-drivers console_read=25"
        --qemu-arg=-device --qemu-arg=virtio-serial-pci,disable-legacy=on
        --qemu-arg=-chardev --qemu-arg=pipe,id=vc,path=${pipe}
        --qemu-arg=-device --qemu-arg=virtconsole,chardev=vc
        --expect "[d0] virtio-drivers: console: init: ok"
        --expect "[d0] virtio-drivers: console: write a line: ok"
        --expect "[d0] virtio-drivers: console: write 6000 bytes (two chunks): ok"
        --expect "[d0] virtio-console: read 25 bytes: \"input-for-virtio-console|\""
        --expect "[d0] virtio-drivers: ok" --expect "d0 (root): shut down: poweroff"
        --forbid FAILED --forbid killed --forbid "hypervisor fault" --forbid PANIC)
    foreach(q ${V_QEMU_ARGS})
      list(APPEND cmd --qemu-arg=${q})
    endforeach()
    foreach(e ${V_EXPECT})
      list(APPEND cmd --expect ${e})
    endforeach()
    add_test(NAME ${name} COMMAND ${cmd})
    math(EXPR ctest_hang "${HV_TEST_HANG_S} + 60")
    set_tests_properties(${name} PROPERTIES LABELS "integration;guestkit"
        PASS_REGULAR_EXPRESSION "hvtest: finished" TIMEOUT ${ctest_hang})
  endfunction()
  gk_virtio_console_test(guestkit_virtio_console)
  # Everything at once: the block device, the two network devices and the
  # console, each in its own mapping window, driven one after the other.
  gk_virtio_console_test(guestkit_virtio_all
      QEMU_ARGS "-drive" "if=none,id=vblk,file=${GK_VDRV_DISK},format=raw,snapshot=on"
                "-device" "virtio-blk-pci,drive=vblk,disable-legacy=on"
                "-netdev" "hubport,id=n0,hubid=0" "-netdev" "hubport,id=n1,hubid=0"
                "-device" "virtio-net-pci,netdev=n0,disable-legacy=on"
                "-device" "virtio-net-pci,netdev=n1,disable-legacy=on"
      EXPECT "[d0] virtio-drivers: blk: every sector holds the pattern: ok"
             "[d0] virtio-drivers: blk: sectors 5-6 read back as written: ok"
             "[d0] virtio-drivers: net: 100 frames net0 -> net1 arrive intact: ok"
             "[d0] virtio-drivers: net: a burst of 16 frames arrives intact and in order: ok")
endif()
