// Copyright embrt authors.

#include "mpi_transport.h"

#define OMPI_SKIP_MPICXX 1  // the C API only
#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace embrt {
namespace cpu {
namespace {

using sdk::Status;

std::mutex g_init_mutex;
bool g_we_initialized = false;

void FinalizeAtExit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

bool LaunchedByMpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

// Initializes MPI unless the application (or an earlier engine) did.
Status EnsureInitialized() {
  std::lock_guard<std::mutex> lock(g_init_mutex);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) {
    return Status::FailedPrecondition(
        "cpu backend: MPI was already finalized in this process; a multi-host engine cannot be "
        "created after MPI_Finalize");
  }
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return Status();
  int provided = 0;
  // Errors inside MPI_Init are fatal in MPI 3.1; there is nothing to check them with.
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
  g_we_initialized = true;
  std::atexit(FinalizeAtExit);
  return Status();
}

std::string MpiErrorText(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, length);
}

class MpiTransport : public Transport {
 public:
  MpiTransport(MPI_Comm comm, int32_t num_hosts, int32_t host_id)
      : comm_(comm), num_hosts_(num_hosts), host_id_(host_id) {}
  ~MpiTransport() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  int32_t num_hosts() const override { return num_hosts_; }
  int32_t host_id() const override { return host_id_; }
  uint64_t off_host_bytes_sent() const override { return off_host_bytes_; }

  Status AgreeStatus(const Status& local) override {
    // The lowest failing host, then its code and message from it.
    const int mine = local.ok() ? num_hosts_ : host_id_;
    int lowest = num_hosts_;
    int rc = MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, comm_);
    if (rc != MPI_SUCCESS) return Failed(rc, "MPI_Allreduce (agree on a status)");
    if (lowest == num_hosts_) return Status();
    int64_t header[2] = {local.code(), static_cast<int64_t>(local.message().size())};
    rc = MPI_Bcast(header, 2, MPI_INT64_T, lowest, comm_);
    if (rc != MPI_SUCCESS) return Failed(rc, "MPI_Bcast (agreed status)");
    std::string message = local.message();
    message.resize(static_cast<size_t>(header[1]));
    if (header[1] > 0) {
      rc = MPI_Bcast(&message[0], static_cast<int>(header[1]), MPI_CHAR, lowest, comm_);
      if (rc != MPI_SUCCESS) return Failed(rc, "MPI_Bcast (agreed status message)");
    }
    return Status(static_cast<EMBRT_ErrorCode>(header[0]),
                  "host " + std::to_string(lowest) + ": " + message);
  }

  Status Barrier() override {
    int rc = MPI_Barrier(comm_);
    return rc == MPI_SUCCESS ? Status() : Failed(rc, "MPI_Barrier");
  }

  Status AllGather(const void* local, size_t size, void* gathered) override {
    // Sizes first, so a host that disagrees fails every host instead of corrupting memory.
    const int64_t mine = static_cast<int64_t>(size);
    std::vector<int64_t> sizes(num_hosts_);
    int rc = MPI_Allgather(&mine, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, comm_);
    if (rc != MPI_SUCCESS) return Failed(rc, "MPI_Allgather (sizes)");
    for (int32_t h = 0; h < num_hosts_; ++h) {
      if (sizes[h] != sizes[0]) {
        return Status::InvalidArgument("Engine_AllGather: host " + std::to_string(h) + " gives " +
                                       std::to_string(sizes[h]) + " bytes, host 0 gives " +
                                       std::to_string(sizes[0]));
      }
    }
    if (size > static_cast<size_t>(INT_MAX)) {
      return Status::InvalidArgument("Engine_AllGather: " + std::to_string(size) +
                                     " bytes per host is more than one MPI call carries");
    }
    rc = MPI_Allgather(local, static_cast<int>(size), MPI_BYTE, gathered, static_cast<int>(size),
                       MPI_BYTE, comm_);
    return rc == MPI_SUCCESS ? Status() : Failed(rc, "MPI_Allgather");
  }

  Status AllToAll(const char* send, const std::vector<int64_t>& send_counts,
                  std::vector<char>* received, std::vector<int64_t>* received_counts,
                  const char* what) override {
    received_counts->assign(num_hosts_, 0);
    int rc = MPI_Alltoall(send_counts.data(), 1, MPI_INT64_T, received_counts->data(), 1,
                          MPI_INT64_T, comm_);
    if (rc != MPI_SUCCESS) return Failed(rc, std::string("MPI_Alltoall (sizes of ") + what + ")");
    send_counts_.resize(num_hosts_);
    send_offsets_.resize(num_hosts_);
    received_counts_.resize(num_hosts_);
    received_offsets_.resize(num_hosts_);
    int64_t sent = 0;
    int64_t got = 0;
    for (int32_t h = 0; h < num_hosts_; ++h) {
      send_offsets_[h] = static_cast<int>(sent);
      received_offsets_[h] = static_cast<int>(got);
      sent += send_counts[h];
      got += (*received_counts)[h];
      // Counts and offsets are C ints in MPI 3.1: one exchange carries at most 2 GiB per host.
      if (sent > INT_MAX || got > INT_MAX) {
        return Status::ResourceExhausted(Where() + std::string(what) + " needs more than " +
                                         std::to_string(INT_MAX) +
                                         " bytes in one exchange; use smaller batches");
      }
      send_counts_[h] = static_cast<int>(send_counts[h]);
      received_counts_[h] = static_cast<int>((*received_counts)[h]);
      if (h != host_id_) off_host_bytes_ += static_cast<uint64_t>(send_counts[h]);
    }
    received->resize(static_cast<size_t>(got));
    rc = MPI_Alltoallv(send, send_counts_.data(), send_offsets_.data(), MPI_BYTE,
                       received->data(), received_counts_.data(), received_offsets_.data(),
                       MPI_BYTE, comm_);
    if (rc != MPI_SUCCESS) return Failed(rc, std::string("MPI_Alltoallv (") + what + ")");
    return Status();
  }

 private:
  std::string Where() const {
    return "host " + std::to_string(host_id_) + " of " + std::to_string(num_hosts_) + ": ";
  }
  Status Failed(int code, const std::string& operation) const {
    return Status(EMBRT_CODE_UNAVAILABLE, Where() + operation + " failed: " + MpiErrorText(code));
  }

  MPI_Comm comm_;
  int32_t num_hosts_;
  int32_t host_id_;
  uint64_t off_host_bytes_ = 0;
  std::vector<int> send_counts_, send_offsets_, received_counts_, received_offsets_;
};

}  // namespace

Status MpiTopology(int32_t* num_hosts, int32_t* host_id) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized && !LaunchedByMpirun()) {
    *num_hosts = 1;
    *host_id = 0;
    return Status();
  }
  Status status = EnsureInitialized();
  if (!status.ok()) return status;
  int size = 1;
  int rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  *num_hosts = size;
  *host_id = rank;
  return Status();
}

Status CreateMpiTransport(int32_t num_hosts, int32_t host_id,
                          std::unique_ptr<Transport>* transport) {
  int32_t size = 1;
  int32_t rank = 0;
  Status status = MpiTopology(&size, &rank);
  if (!status.ok()) return status;
  if (size != num_hosts || rank != host_id) {
    return Status::FailedPrecondition(
        "cpu backend: the engine is host " + std::to_string(host_id) + " of num_hosts " +
        std::to_string(num_hosts) + ", but this process is rank " + std::to_string(rank) +
        " of an MPI job of " + std::to_string(size) + " process(es); start one process per host " +
        "with `mpirun -np " + std::to_string(num_hosts) +
        " ...` and leave num_hosts at 0 in the config to take both from the job");
  }
  MPI_Comm comm = MPI_COMM_NULL;
  int rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  if (rc != MPI_SUCCESS) {
    return Status(EMBRT_CODE_UNAVAILABLE, "host " + std::to_string(host_id) +
                                              ": MPI_Comm_dup failed: " + MpiErrorText(rc));
  }
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  transport->reset(new MpiTransport(comm, num_hosts, host_id));
  return Status();
}

}  // namespace cpu
}  // namespace embrt
