// Copyright embrt authors.
//
// Tests of the file-opening helpers of core/src/posix_file.cc: a non-regular file is an error
// at once (never a blocking open or read), symbolic links are followed or refused on purpose,
// and a regular file opened this way reads normally (O_NONBLOCK cleared).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "checkpoint_test_util.h"
#include "posix_file.h"

namespace embrt {
namespace {

using internal::OpenRegularFile;
using internal::ReadSmallFile;
using internal::Symlinks;
using testing_util::StatusIs;
using testing_util::TempDir;
using testing_util::WriteFile;

TEST(OpenRegularFileTest, FifoIsFailedPreconditionAtOnce) {
  TempDir dir;
  const std::string fifo = dir.path() + "/pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  // Without O_NONBLOCK this open would wait for a writer forever (ctest TIMEOUT fails it).
  EXPECT_THAT(OpenRegularFile(fifo, Symlinks::kFollow).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "pipe is a FIFO"));
  EXPECT_THAT(ReadSmallFile(fifo, 100).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is a FIFO, not a regular file"));
}

TEST(OpenRegularFileTest, DirectoryAndDeviceAreRefused) {
  TempDir dir;
  EXPECT_THAT(OpenRegularFile(dir.path(), Symlinks::kFollow).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is a directory"));
  EXPECT_THAT(OpenRegularFile("/dev/null", Symlinks::kFollow).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is a character device"));
}

TEST(OpenRegularFileTest, SymbolicLinksAreFollowedOrRefusedAsAsked) {
  TempDir dir;
  WriteFile(dir.path() + "/target", "hello");
  const std::string link = dir.path() + "/link";
  ASSERT_EQ(symlink((dir.path() + "/target").c_str(), link.c_str()), 0);
  absl::StatusOr<std::string> followed = ReadSmallFile(link, 100, Symlinks::kFollow);
  ASSERT_TRUE(followed.ok()) << followed.status();
  EXPECT_EQ(*followed, "hello");
  EXPECT_THAT(ReadSmallFile(link, 100, Symlinks::kRefuse).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "is a symbolic link"));
}

TEST(OpenRegularFileTest, RegularFileReadsBlockingAndWhole) {
  TempDir dir;
  WriteFile(dir.path() + "/file", "abc");
  absl::StatusOr<internal::UniqueFd> fd =
      OpenRegularFile(dir.path() + "/file", Symlinks::kRefuse);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(fcntl(fd->get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_THAT(ReadSmallFile(dir.path() + "/file", 2).status(),
              StatusIs(absl::StatusCode::kDataLoss, "more than the limit of 2"));
  EXPECT_THAT(OpenRegularFile(dir.path() + "/missing", Symlinks::kRefuse).status(),
              StatusIs(absl::StatusCode::kNotFound, "missing"));
}

}  // namespace
}  // namespace embrt
