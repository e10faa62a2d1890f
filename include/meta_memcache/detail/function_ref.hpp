#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace meta_memcache::detail {

template <class Signature>
class FunctionRef;

/// A non-owning reference to a callable (as C++26's std::function_ref): two pointers, no
/// allocation. It must not outlive the callable it refers to.
template <class R, class... Args>
class FunctionRef<R(Args...)> {
public:
    // Implicit, so a callable stands in for a FunctionRef; constrained not to take a
    // FunctionRef, so it hides neither copy nor move.
    // NOLINTBEGIN(bugprone-forwarding-reference-overload)
    template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
             std::is_invocable_r_v<R, F&, Args...>) FunctionRef(F&& f)
    noexcept
        : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* o, Args... args) -> R {
              return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...);
          }) {}
    // NOLINTEND(bugprone-forwarding-reference-overload)

    R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

private:
    void* object_;
    R (*call_)(void*, Args...);
};

}  // namespace meta_memcache::detail
