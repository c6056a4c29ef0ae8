// Copyright embrt authors.
//
// Small POSIX file helpers for checkpoints (internal to the core): errors as absl::Status
// naming the path, durable writes (fsync of files and directories), read-only memory maps.

#ifndef EMBRT_CORE_SRC_POSIX_FILE_H_
#define EMBRT_CORE_SRC_POSIX_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace embrt {
namespace internal {

// A status for the current errno: `what` names the operation and the path.
absl::Status ErrnoStatus(int error_number, absl::string_view what);

// An open file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  // Closes now and reports a failed close (which can mean lost writes).
  absl::Status Close(absl::string_view path);

 private:
  int fd_ = -1;
};

// Writes all of `data` at `offset` (pwrite, retried on short writes and EINTR).
absl::Status PwriteAll(int fd, const void* data, size_t size, int64_t offset,
                       absl::string_view path);
// Reads exactly `size` bytes at `offset`; fewer bytes is DATA_LOSS (truncated file).
absl::Status PreadAll(int fd, void* data, size_t size, int64_t offset, absl::string_view path);

absl::Status FsyncFd(int fd, absl::string_view path);
// Opens the directory and fsyncs it, so that entries created or renamed in it are durable.
absl::Status FsyncDirectory(const std::string& path);

// Writes `contents` to a new file `path` (which must not exist), fsyncs and closes it.
absl::Status WriteNewFileDurably(const std::string& path, absl::string_view contents);

// How an open treats a symbolic link in the last path component.
enum class Symlinks { kFollow, kRefuse };

// Opens `path` for reading so that it can never block: with O_NONBLOCK (a FIFO or device
// opens at once), then fstat on the descriptor: anything but a regular file is
// FAILED_PRECONDITION naming the path and its type, before a single byte is read. O_NONBLOCK
// is cleared again on success. With Symlinks::kRefuse a symbolic link in the last component is
// INVALID_ARGUMENT (O_NOFOLLOW). Paths a user gives are followed; entries inside a checkpoint
// are not (see embrt/checkpoint.h).
absl::StatusOr<UniqueFd> OpenRegularFile(const std::string& path, Symlinks symlinks);

// The same below the directory `dir_fd`, for one plain name: never follows a symbolic link.
absl::StatusOr<UniqueFd> OpenRegularFileAt(int dir_fd, const std::string& name,
                                           absl::string_view display_path);

// Reads a whole regular file of at most `max_size` bytes; larger is DATA_LOSS. Opened with
// OpenRegularFile (never blocks on a FIFO).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, int64_t max_size,
                                          Symlinks symlinks = Symlinks::kRefuse);

// Removes a directory tree (or a file); a missing path is fine. Symbolic links are removed,
// never followed.
absl::Status RemoveTree(const std::string& path);

// Opens `relative_path` ("dir/name" or "name") below the directory `dir_fd` for reading
// without following symbolic links in any component; the file must be a regular file (see
// OpenRegularFile: never blocks).
absl::StatusOr<UniqueFd> OpenBelow(int dir_fd, absl::string_view relative_path,
                                   absl::string_view display_path);

// A read-only, shared memory map of a whole file. Move-only; unmaps on destruction.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  // Maps `size` bytes of `fd` (the caller has checked the file's size). Size 0 maps nothing.
  // `populate` faults every page in at once (cheaper than one fault per page when the whole
  // file is about to be read).
  static absl::StatusOr<MappedFile> Map(int fd, size_t size, absl::string_view path,
                                        bool populate = false);

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void Reset();
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_POSIX_FILE_H_
