#pragma once

// send() and recv() as the synchronous client makes them. On Linux they are the system
// calls themselves (sendto/recvfrom through syscall()): glibc's wrappers are pthread
// cancellation points, and the bookkeeping that makes them so costs about 30 user
// instructions a call, as much as the rest of the wrapper. A thread inside the library is
// never meant to be cancelled there (it holds a connection of a pool), so nothing is lost.
// Elsewhere they are the libc calls. Both return what send()/recv() return, errno set.

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace meta_memcache::detail::socket_calls {

[[gnu::always_inline]] inline ssize_t send_bytes(int fd,
                                                 const void* data,
                                                 std::size_t n,
                                                 int flags) noexcept {
#if defined(__linux__) && defined(SYS_sendto)
    return static_cast<ssize_t>(::syscall(SYS_sendto, fd, data, n, flags, nullptr, 0));
#else
    return ::send(fd, data, n, flags);
#endif
}

[[gnu::always_inline]] inline ssize_t recv_bytes(int fd,
                                                 void* buf,
                                                 std::size_t n,
                                                 int flags) noexcept {
#if defined(__linux__) && defined(SYS_recvfrom)
    return static_cast<ssize_t>(::syscall(SYS_recvfrom, fd, buf, n, flags, nullptr, nullptr));
#else
    return ::recv(fd, buf, n, flags);
#endif
}

}  // namespace meta_memcache::detail::socket_calls
