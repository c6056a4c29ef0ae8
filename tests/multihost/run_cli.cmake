# ctest driver: `embrt train` alone and under `mpirun -np NP` with the same global batch must
# print the same held-out metrics, and the mpirun job exactly one summary (host 0's); the
# checkpoint the NP hosts wrote evaluates the same with `embrt eval` alone and on NP hosts.
set(args train --steps=120 --batch_size=64 --eval_examples=2000 --synthetic_fields=6 --quiet)
execute_process(COMMAND "${EMBRT}" ${args}
  RESULT_VARIABLE rc1 OUTPUT_VARIABLE out1 ERROR_VARIABLE err1 TIMEOUT 60)
set(ckpt "${CMAKE_CURRENT_BINARY_DIR}/cli_train_np${NP}")
file(REMOVE_RECURSE "${ckpt}")
execute_process(COMMAND "${MPIEXEC}" -n ${NP} --oversubscribe --timeout 60 "${EMBRT}" ${args}
                        --checkpoint_dir=${ckpt}
  RESULT_VARIABLE rcn OUTPUT_VARIABLE outn ERROR_VARIABLE errn TIMEOUT 90)
message("one host:\n${out1}${err1}\nmpirun -np ${NP}:\n${outn}${errn}")
if(NOT rc1 EQUAL 0 OR NOT rcn EQUAL 0)
  message(FATAL_ERROR "embrt train failed (exit ${rc1} alone, ${rcn} under mpirun)")
endif()
string(REGEX MATCH "held-out[^\n]*" held1 "${out1}")
string(REGEX MATCH "held-out[^\n]*" heldn "${outn}")
if(held1 STREQUAL "" OR NOT held1 STREQUAL heldn)
  message(FATAL_ERROR "held-out metrics differ: '${held1}' alone, '${heldn}' on ${NP} hosts")
endif()
string(REGEX MATCHALL "embrt train:" summaries "${outn}")
list(LENGTH summaries count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "${count} summaries under mpirun -np ${NP}; expected host 0's only")
endif()
if(NOT outn MATCHES "hosts +${NP} \\(mpirun\\)")
  message(FATAL_ERROR "the summary does not say it ran on ${NP} hosts")
endif()
# The checkpoint the NP hosts wrote evaluates the same alone and on NP hosts.
execute_process(COMMAND "${EMBRT}" eval --checkpoint=${ckpt}
  RESULT_VARIABLE rce1 OUTPUT_VARIABLE oute1 ERROR_VARIABLE erre1 TIMEOUT 60)
execute_process(COMMAND "${MPIEXEC}" -n ${NP} --oversubscribe --timeout 60 "${EMBRT}" eval
                        --checkpoint=${ckpt}
  RESULT_VARIABLE rcen OUTPUT_VARIABLE outen ERROR_VARIABLE erren TIMEOUT 90)
message("eval alone:\n${oute1}${erre1}\neval on ${NP} hosts:\n${outen}${erren}")
string(REGEX MATCH "held-out[^\n]*" evalled1 "${oute1}")
string(REGEX MATCH "held-out[^\n]*" evalledn "${outen}")
if(NOT rce1 EQUAL 0 OR NOT rcen EQUAL 0 OR evalled1 STREQUAL "" OR
   NOT evalled1 STREQUAL evalledn)
  message(FATAL_ERROR "eval of the ${NP}-host checkpoint: '${evalled1}' alone (exit ${rce1}), "
                      "'${evalledn}' on ${NP} hosts (exit ${rcen})")
endif()
file(REMOVE_RECURSE "${ckpt}")
