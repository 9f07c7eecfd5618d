# --- blkback, the disk driver domain (issue 15) --------------------------------
# blkback_test.py starts the machine with `hvctl up` and a disk (the default
# hv.iso, where the control domain starts blkback at boot) and reads
# blkback's console; see the script's top for the scenarios.
if(HV_WITH_TOOLS)
  set(BLKBACK_TEST ${HV_REAP} ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/blkback_test.py
      --hvctl $<TARGET_FILE:hvctl> --driver $<TARGET_FILE:control_driver>
      --iso ${CMAKE_BINARY_DIR}/hv.iso --workdir ${HV_TEST_LOGDIR}
      --bus-guest $<TARGET_FILE:bus_guest>)
  foreach(t boot damaged default_disk volumes relay)
    add_test(NAME blkback_${t} COMMAND ${BLKBACK_TEST} ${t})
    set_tests_properties(blkback_${t} PROPERTIES LABELS "integration;blkback"
        PASS_REGULAR_EXPRESSION "blkback_test: ${t}: passed" TIMEOUT 240)
  endforeach()
endif()
