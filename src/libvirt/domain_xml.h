// What the daemon reads from a guest's live libvirt definition
// (virDomainGetXMLDesc): its UUID and its virtio balloon device.
//
//   <domain>
//     <uuid>...</uuid>
//     <devices>
//       <memballoon model='virtio' autodeflate='on' freePageReporting='on'>
//         <stats period='1'/>
//       </memballoon>
//
// The adapter reads it when it first sees a guest and when libvirt reports a
// redefinition or a device added or removed, never per tick. Parsed with
// libxml2 (no network access, no entity expansion). Pure function:
// thread-safe, no I/O.
#ifndef MEMCOORD_SRC_LIBVIRT_DOMAIN_XML_H_
#define MEMCOORD_SRC_LIBVIRT_DOMAIN_XML_H_

#include <string>
#include <string_view>

#include "memcoord/model.h"
#include "memcoord/status.h"

namespace memcoord {

struct DomainXmlFacts {
  std::string uuid;  // <uuid>; empty when the definition has none
  // From the first <memballoon> under <devices>. Every field is empty when
  // there is none, or its model is not virtio (virtio, virtio-transitional,
  // virtio-non-transitional). For a virtio balloon, an attribute the
  // definition leaves out is QEMU's default: autodeflate and
  // freePageReporting off; no <stats period> is a period of 0 (off), which
  // is how libvirt writes a period that is off.
  BalloonDevice balloon;
};

// Errors (kInvalidArgument, naming what is wrong): not well-formed XML, a
// root element other than <domain>, an autodeflate or freePageReporting
// value other than on/off, a stats period that is not a non-negative
// integer.
Result<DomainXmlFacts> ParseDomainXml(std::string_view xml);

}  // namespace memcoord

#endif  // MEMCOORD_SRC_LIBVIRT_DOMAIN_XML_H_
