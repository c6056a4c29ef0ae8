# ctest driver: runs killed_rank_main under mpirun (MPIEXEC, NP, PROGRAM) and passes when the
# job fails because a rank was killed, within LIMIT seconds, rather than hanging.
string(TIMESTAMP start "%s")
if(CHECKPOINT_ROOT)
  file(REMOVE_RECURSE "${CHECKPOINT_ROOT}")
endif()
execute_process(
  COMMAND "${MPIEXEC}" -n ${NP} --oversubscribe --timeout 60 "${PROGRAM}" ${CHECKPOINT_ROOT}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  TIMEOUT 90)
string(TIMESTAMP end "%s")
math(EXPR elapsed "${end} - ${start}")
message("${out}${err}")
message("mpirun exit: ${rc}, after ${elapsed} s")
if(rc EQUAL 0)
  message(FATAL_ERROR "the job succeeded although host 1 was killed")
endif()
if(NOT "${out}${err}" MATCHES "host 1: killing myself")
  message(FATAL_ERROR "host 1 never reached its kill point")
endif()
if("${out}${err}" MATCHES "timeout|Timeout|TIMEOUT" OR elapsed GREATER ${LIMIT})
  message(FATAL_ERROR "the surviving hosts hung: the job ended only after ${elapsed} s")
endif()
if(CHECKPOINT_ROOT)
  # The checkpoint of step 2 is intact and `latest` names a complete, verified checkpoint.
  foreach(path IN ITEMS "${CHECKPOINT_ROOT}/ckpt-2" "${CHECKPOINT_ROOT}")
    execute_process(COMMAND "${INSPECT}" inspect "${path}" RESULT_VARIABLE irc
                    OUTPUT_VARIABLE iout ERROR_VARIABLE ierr TIMEOUT 60)
    message("embrt inspect ${path}: exit ${irc}\n${iout}${ierr}")
    if(NOT irc EQUAL 0)
      message(FATAL_ERROR "checkpoint ${path} is damaged after host 1 died while saving")
    endif()
  endforeach()
  file(REMOVE_RECURSE "${CHECKPOINT_ROOT}")
endif()
