// Per-domain settings carried in a guest's libvirt <metadata>.
//
// An operator stores them in the guest's definition so that they travel with
// the guest (one command line):
//   virsh metadata GUEST --uri https://memcoord.dev/xmlns/domain/1
//     --key memcoord --set '<settings min_mib="512" shares="2000"/>' --live
// libvirt then returns the element (virDomainGetMetadata, ELEMENT type) as
//   <memcoord:settings xmlns:memcoord="https://memcoord.dev/xmlns/domain/1"
//                     min_mib="512" shares="2000"/>
// or without the prefix. The parser reads the attributes of the first element
// and needs no XML library. Pure functions: thread-safe, no I/O.
#ifndef MEMCOORD_SRC_LIBVIRT_DOMAIN_METADATA_H_
#define MEMCOORD_SRC_LIBVIRT_DOMAIN_METADATA_H_

#include <string_view>

#include "memcoord/model.h"
#include "memcoord/status.h"

namespace memcoord {

// The XML namespace of our metadata element, and the prefix we suggest.
inline constexpr std::string_view kDomainMetadataNamespace =
    "https://memcoord.dev/xmlns/domain/1";
inline constexpr std::string_view kDomainMetadataPrefix = "memcoord";

// Parses `<[prefix:]settings min_mib=".." max_mib=".." shares=".."
// managed=".."/>`. Every attribute is optional; single or double quotes,
// any whitespace and attribute order, an XML declaration, comments and child
// content are accepted, and xmlns attributes are ignored. Sizes are MiB.
// Errors (kInvalidArgument, naming the attribute): not a `settings` element,
// malformed markup, an unknown attribute, a value that is not a non-negative
// integer (managed: true/false/yes/no/1/0), or min_mib above max_mib.
Result<DomainSettings> ParseDomainSettingsXml(std::string_view xml);

}  // namespace memcoord

#endif  // MEMCOORD_SRC_LIBVIRT_DOMAIN_METADATA_H_
