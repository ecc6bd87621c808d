// RingWindow<T, N>: the last N values pushed, oldest first, held in place.
// A full window drops its oldest value on push_back. No allocation ever: a
// window of every guest's recent samples stays inside the guest's own
// record instead of scattering a heap block per guest.
//
// The interface is the subset of std::deque the policies use; indices count
// from the oldest value. Not thread-safe (plain value type).
#ifndef MEMCOORD_SRC_CORE_RING_WINDOW_H_
#define MEMCOORD_SRC_CORE_RING_WINDOW_H_

#include <array>
#include <cstddef>

namespace memcoord {

template <typename T, size_t N>
class RingWindow {
  static_assert(N > 0, "a window holds at least one value");

 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // i = 0 is the oldest value; requires i < size().
  const T& operator[](size_t i) const { return data_[(head_ + i) % N]; }
  const T& back() const { return (*this)[size_ - 1]; }

  void push_back(const T& value) {
    if (size_ < N) {
      data_[(head_ + size_) % N] = value;
      ++size_;
    } else {
      data_[head_] = value;
      head_ = (head_ + 1) % N;
    }
  }
  void clear() {
    head_ = 0;
    size_ = 0;
  }

  // Oldest to newest, for range-for.
  class const_iterator {
   public:
    const_iterator(const RingWindow* w, size_t i) : w_(w), i_(i) {}
    const T& operator*() const { return (*w_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const RingWindow* w_;
    size_t i_;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

 private:
  std::array<T, N> data_{};
  size_t head_ = 0;  // index of the oldest value
  size_t size_ = 0;
};

}  // namespace memcoord

#endif  // MEMCOORD_SRC_CORE_RING_WINDOW_H_
