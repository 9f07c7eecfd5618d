# --- networking (issue 16, docs/net.md) -----------------------------------------
# Included from test/integration/CMakeLists.txt. Linux is the peer: each test
# creates its own network namespace with a tap device (192.0.2.1/24) and runs
# QEMU and the clients (curl, socat, Python sockets) inside it
# (net_tap_test.py); nothing leaves the namespace. No -icount here: the
# peer's clock is the host's, and a guest whose virtual clock leapt ahead
# while idle would time its TCP connections out against a real-time peer.
# Needs root (CAP_NET_ADMIN) and /dev/net/tun.
if(TARGET hv.elf AND TARGET netserve)
  # guest-kit's stack driving the virtio-net device itself (no netback):
  # the baseline, and Linux interoperability of the stack.
  add_test(NAME netback_tap_direct
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/net_tap_test.py
          --logdir ${HV_TEST_LOGDIR} --name netback_tap_direct --big 16777216 --
          ${Python3_EXECUTABLE} ${HVTEST} --name netback_tap_direct
          --hv $<TARGET_FILE:hv.elf> --mkiso ${PROJECT_SOURCE_DIR}/scripts/mkiso.sh
          --logdir ${HV_TEST_LOGDIR} --timeout 400 --forbid PANIC --forbid "hypervisor fault"
          --module $<TARGET_FILE:netserve>::netserve
          --expect "netserve: ready" --expect "netserve: done"
          --expect "d0 (root): shut down: poweroff")
  set_tests_properties(netback_tap_direct PROPERTIES LABELS "netback;net;integration"
      PASS_REGULAR_EXPRESSION "hvtest: finished" TIMEOUT 600 RUN_SERIAL TRUE)
endif()

# netback as a domain: `hvctl up --net tap:hvtap0` inside a namespace the test
# creates (netback_test.py; scenarios at its top).
if(HV_WITH_TOOLS AND TARGET netback AND TARGET netserve AND TARGET bus_guest)
  set(NETBACK_TEST ${HV_REAP} ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/netback_test.py
      --hvctl $<TARGET_FILE:hvctl> --iso ${CMAKE_BINARY_DIR}/hv.iso --workdir ${HV_TEST_LOGDIR}
      --netserve $<TARGET_FILE:netserve> --manifests ${PROJECT_SOURCE_DIR}/examples/manifests/net
      --busguest $<TARGET_FILE:bus_guest>)
  foreach(t boot http nonic policy)
    add_test(NAME netback_${t} COMMAND ${NETBACK_TEST} ${t})
    set_tests_properties(netback_${t} PROPERTIES LABELS "netback;net;integration"
        PASS_REGULAR_EXPRESSION "netback_test: ${t}: passed" TIMEOUT 300)
  endforeach()
endif()
