// Copyright embrt authors.
//
// POSIX file helpers for checkpoints: durable writes, bounded reads, memory maps.

#include "posix_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "embrt/status_macros.h"

namespace embrt {
namespace internal {

absl::Status ErrnoStatus(int error_number, absl::string_view what) {
  const std::string message = absl::StrCat(what, ": ", strerror(error_number));
  switch (error_number) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    case ELOOP:
    case ENOTDIR:
    case EISDIR:
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

absl::Status UniqueFd::Close(absl::string_view path) {
  const int fd = release();
  if (fd >= 0 && ::close(fd) != 0) return ErrnoStatus(errno, absl::StrCat("close ", path));
  return absl::OkStatus();
}

absl::Status PwriteAll(int fd, const void* data, size_t size, int64_t offset,
                       absl::string_view path) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::pwrite(fd, bytes, size, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("write ", path));
    }
    bytes += written;
    size -= static_cast<size_t>(written);
    offset += written;
  }
  return absl::OkStatus();
}

absl::Status PreadAll(int fd, void* data, size_t size, int64_t offset, absl::string_view path) {
  char* bytes = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t got = ::pread(fd, bytes, size, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("read ", path));
    }
    if (got == 0) {
      return absl::DataLossError(absl::StrCat("file ", path, " is truncated: ", size,
                                              " bytes missing at offset ", offset));
    }
    bytes += got;
    size -= static_cast<size_t>(got);
    offset += got;
  }
  return absl::OkStatus();
}

absl::Status FsyncFd(int fd, absl::string_view path) {
  if (::fsync(fd) != 0) return ErrnoStatus(errno, absl::StrCat("fsync ", path));
  return absl::OkStatus();
}

absl::Status FsyncDirectory(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("open directory ", path));
  EMBRT_RETURN_IF_ERROR(FsyncFd(fd.get(), path));
  return fd.Close(path);
}

absl::Status WriteNewFileDurably(const std::string& path, absl::string_view contents) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("create ", path));
  EMBRT_RETURN_IF_ERROR(PwriteAll(fd.get(), contents.data(), contents.size(), 0, path));
  EMBRT_RETURN_IF_ERROR(FsyncFd(fd.get(), path));
  return fd.Close(path);
}

namespace {

const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

// Checks that the freshly opened `fd` (opened with O_NONBLOCK) is a regular file and makes
// its reads blocking again.
absl::StatusOr<UniqueFd> KeepIfRegular(UniqueFd fd, absl::string_view path) {
  struct stat info;
  if (::fstat(fd.get(), &info) != 0) return ErrnoStatus(errno, absl::StrCat("stat ", path));
  if (!S_ISREG(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is ", FileTypeName(info.st_mode), ", not a regular file"));
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return ErrnoStatus(errno, absl::StrCat("fcntl ", path));
  }
  return fd;
}

absl::Status OpenError(int error_number, absl::string_view path) {
  if (error_number == ELOOP) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is a symbolic link, which is not followed here"));
  }
  return ErrnoStatus(error_number, absl::StrCat("open ", path));
}

}  // namespace

absl::StatusOr<UniqueFd> OpenRegularFile(const std::string& path, Symlinks symlinks) {
  const int no_follow = symlinks == Symlinks::kRefuse ? O_NOFOLLOW : 0;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | no_follow));
  if (!fd.valid()) return OpenError(errno, path);
  return KeepIfRegular(std::move(fd), path);
}

absl::StatusOr<UniqueFd> OpenRegularFileAt(int dir_fd, const std::string& name,
                                           absl::string_view display_path) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return OpenError(errno, display_path);
  return KeepIfRegular(std::move(fd), display_path);
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, int64_t max_size,
                                          Symlinks symlinks) {
  EMBRT_ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularFile(path, symlinks));
  struct stat info;
  if (::fstat(fd.get(), &info) != 0) return ErrnoStatus(errno, absl::StrCat("stat ", path));
  if (info.st_size > max_size) {
    return absl::DataLossError(
        absl::StrCat(path, " is ", info.st_size, " bytes, more than the limit of ", max_size));
  }
  std::string contents(static_cast<size_t>(info.st_size), '\0');
  EMBRT_RETURN_IF_ERROR(PreadAll(fd.get(), contents.data(), contents.size(), 0, path));
  return contents;
}

absl::Status RemoveTree(const std::string& path) {
  struct stat info;
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus(errno, absl::StrCat("stat ", path));
  }
  if (S_ISDIR(info.st_mode)) {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return ErrnoStatus(errno, absl::StrCat("open directory ", path));
    std::vector<std::string> children;
    while (const dirent* entry = ::readdir(dir)) {
      const absl::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      children.emplace_back(name);
    }
    ::closedir(dir);
    for (const std::string& child : children) {
      EMBRT_RETURN_IF_ERROR(RemoveTree(absl::StrCat(path, "/", child)));
    }
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("remove directory ", path));
    }
    return absl::OkStatus();
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("remove ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> OpenBelow(int dir_fd, absl::string_view relative_path,
                                   absl::string_view display_path) {
  UniqueFd parent;
  int at = dir_fd;
  absl::string_view name = relative_path;
  const size_t slash = relative_path.find('/');
  if (slash != absl::string_view::npos) {
    const std::string dir_name(relative_path.substr(0, slash));
    parent = UniqueFd(::openat(dir_fd, dir_name.c_str(),
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!parent.valid()) {
      return ErrnoStatus(errno, absl::StrCat("open directory of ", display_path));
    }
    at = parent.get();
    name = relative_path.substr(slash + 1);
  }
  return OpenRegularFileAt(at, std::string(name), display_path);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { Reset(); }

void MappedFile::Reset() {
  if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

absl::StatusOr<MappedFile> MappedFile::Map(int fd, size_t size, absl::string_view path,
                                           bool populate) {
  MappedFile mapped;
  if (size == 0) return mapped;
  void* address =
      ::mmap(nullptr, size, PROT_READ, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
  if (address == MAP_FAILED) return ErrnoStatus(errno, absl::StrCat("mmap ", path));
  mapped.data_ = static_cast<const unsigned char*>(address);
  mapped.size_ = size;
  return mapped;
}

}  // namespace internal
}  // namespace embrt
