# --- driver-domain restarts (issue 17, docs/restart.md) -----------------------------
# Included from test/integration/CMakeLists.txt. restart_test.py (scenarios at
# its top) reuses netback_test.py's machine and namespace helpers: the
# network scenarios make their own namespace with a tap device and use
# 192.0.2.0/24 only; no -icount (a Linux peer on the host's clock). Needs
# root (CAP_NET_ADMIN) and /dev/net/tun.
if(HV_WITH_TOOLS AND TARGET netback AND TARGET netserve)
  # A guest that answers its heartbeats, then hangs (restart_test.py hang).
  add_guest(restart_guest SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/restart_guest.c LIBS proto_guest)
  set(RESTART_TEST ${HV_REAP} ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/restart_test.py
      --hvctl $<TARGET_FILE:hvctl> --iso ${CMAKE_BINARY_DIR}/hv.iso --workdir ${HV_TEST_LOGDIR}
      --netserve $<TARGET_FILE:netserve> --manifests ${PROJECT_SOURCE_DIR}/examples/manifests/net
      --guest $<TARGET_FILE:restart_guest>)
  add_test(NAME restart_netback COMMAND ${RESTART_TEST} --kills 20 netback)
  set_tests_properties(restart_netback PROPERTIES LABELS "restart;netback;integration"
      PASS_REGULAR_EXPRESSION "restart_test: netback: passed" TIMEOUT 600)
  foreach(t loop hang)
    add_test(NAME restart_${t} COMMAND ${RESTART_TEST} ${t})
    set_tests_properties(restart_${t} PROPERTIES LABELS "restart;integration"
        PASS_REGULAR_EXPRESSION "restart_test: ${t}: passed" TIMEOUT 300)
  endforeach()
  # make soak: 100 kills of netback under the TCP stream (not in make check).
  add_custom_target(soak
      COMMAND ${RESTART_TEST} --kills 100 --name restart_netback_soak netback
      DEPENDS iso hvctl netserve restart_guest
      USES_TERMINAL
      COMMENT "Soak: netback killed 100 times under a TCP stream (restart_test.py)")
endif()
