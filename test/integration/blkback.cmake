# --- blkback, the disk driver domain (issue 15) --------------------------------
# blkback_test.py starts the machine with `hvctl up` and a disk (the default
# hv.iso, where the control domain starts blkback at boot) and reads
# blkback's console; see the script's top for the scenarios.
if(HV_WITH_TOOLS)
  add_guest(blk_guest SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/blk_guest.c LIBS proto_guest)
  set(BLKBACK_TEST ${HV_REAP} ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/blkback_test.py
      --hvctl $<TARGET_FILE:hvctl> --driver $<TARGET_FILE:control_driver>
      --iso ${CMAKE_BINARY_DIR}/hv.iso --workdir ${HV_TEST_LOGDIR}
      --bus-guest $<TARGET_FILE:bus_guest> --blk-guest $<TARGET_FILE:blk_guest>
      --kvstore $<TARGET_FILE:kvstore> --examples ${PROJECT_SOURCE_DIR}/examples/manifests)
  foreach(t boot damaged default_disk volumes relay data store hostile qos)
    add_test(NAME blkback_${t} COMMAND ${BLKBACK_TEST} ${t})
    set_tests_properties(blkback_${t} PROPERTIES LABELS "integration;blkback"
        PASS_REGULAR_EXPRESSION "blkback_test: ${t}: passed" TIMEOUT 240)
  endforeach()
endif()
