// The process-wide libvirt event loop and error handling.
//
// libvirt allows one event loop implementation per process, registered before
// the first connection is opened; keepalive, close callbacks and domain events
// all need it. StartLibvirtEventLoop() registers libvirt's default
// implementation, switches off libvirt's printing of errors to stderr (errors
// are read with virGetLastError and returned as Status instead), and starts
// one thread running virEventRunDefaultImpl. Later calls return the first
// result. Thread-safe. The thread runs until the process exits.
#ifndef MEMCOORD_SRC_LIBVIRT_EVENT_LOOP_H_
#define MEMCOORD_SRC_LIBVIRT_EVENT_LOOP_H_

#include "memcoord/status.h"

namespace memcoord {

// kInternal if libvirt could not be initialised or the loop not registered.
Status StartLibvirtEventLoop();

}  // namespace memcoord

#endif  // MEMCOORD_SRC_LIBVIRT_EVENT_LOOP_H_
