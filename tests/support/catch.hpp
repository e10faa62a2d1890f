#pragma once
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>  // Catch2 v3
namespace Catch {
// v2's spelling, used throughout the tests.
inline auto Contains(const std::string& s) {
    return Matchers::ContainsSubstring(s);
}
}  // namespace Catch
#else
#include <catch2/catch.hpp>  // Catch2 v2 (Debian bookworm)
#endif
