#include "domain_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <charconv>
#include <climits>
#include <memory>
#include <mutex>
#include <optional>

namespace memcoord {
namespace {

struct ParserCtxtFree {
  void operator()(xmlParserCtxtPtr c) const { xmlFreeParserCtxt(c); }
};
struct DocFree {
  void operator()(xmlDocPtr d) const { xmlFreeDoc(d); }
};
struct XmlCharFree {
  void operator()(xmlChar* s) const { xmlFree(s); }
};
using XmlString = std::unique_ptr<xmlChar, XmlCharFree>;

bool Named(const xmlNode* node, const char* name) {
  return node->type == XML_ELEMENT_NODE && node->ns == nullptr &&
         xmlStrEqual(node->name, reinterpret_cast<const xmlChar*>(name));
}

const xmlNode* FirstChild(const xmlNode* parent, const char* name) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (Named(c, name)) return c;
  }
  return nullptr;
}

// The attribute's value, or nullopt when the element does not have it.
std::optional<std::string> Attribute(const xmlNode* node, const char* name) {
  XmlString v(xmlGetNoNsProp(node, reinterpret_cast<const xmlChar*>(name)));
  if (!v) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(v.get()));
}

std::string Text(const xmlNode* node) {
  XmlString v(xmlNodeGetContent(node));
  if (!v) return "";
  std::string s(reinterpret_cast<const char*>(v.get()));
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// on/off as libvirt writes them; absent is QEMU's default, off.
Status OnOff(const xmlNode* balloon, const char* name,
             std::optional<bool>* out) {
  std::optional<std::string> v = Attribute(balloon, name);
  if (!v) {
    *out = false;
    return Status::Ok();
  }
  if (*v == "on") {
    *out = true;
  } else if (*v == "off") {
    *out = false;
  } else {
    return Status::InvalidArgument(std::string("domain XML: memballoon ") +
                                   name + "='" + *v + "' is not on or off");
  }
  return Status::Ok();
}

bool VirtioModel(const std::string& model) {
  return model == "virtio" || model == "virtio-transitional" ||
         model == "virtio-non-transitional";
}

}  // namespace

Result<DomainXmlFacts> ParseDomainXml(std::string_view xml) {
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  if (xml.size() > static_cast<size_t>(INT_MAX)) {
    return Status::InvalidArgument("domain XML: too large");
  }
  std::unique_ptr<xmlParserCtxt, ParserCtxtFree> ctxt(xmlNewParserCtxt());
  if (!ctxt) return Status::Internal("domain XML: no parser context");
  // No network, no entity substitution, no DTD loading, nothing printed.
  std::unique_ptr<xmlDoc, DocFree> doc(xmlCtxtReadMemory(
      ctxt.get(), xml.data(), static_cast<int>(xml.size()), "domain.xml",
      nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) {
    const xmlError* e = &ctxt->lastError;
    std::string why = e->message != nullptr ? e->message : "not well-formed";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) {
      why.pop_back();
    }
    return Status::InvalidArgument("domain XML: line " +
                                   std::to_string(e->line) + ": " + why);
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || !Named(root, "domain")) {
    return Status::InvalidArgument("domain XML: the root element is not <domain>");
  }

  DomainXmlFacts facts;
  if (const xmlNode* uuid = FirstChild(root, "uuid")) facts.uuid = Text(uuid);

  const xmlNode* devices = FirstChild(root, "devices");
  const xmlNode* balloon =
      devices == nullptr ? nullptr : FirstChild(devices, "memballoon");
  if (balloon == nullptr) return facts;
  if (!VirtioModel(Attribute(balloon, "model").value_or(""))) return facts;

  BalloonDevice& b = facts.balloon;
  if (Status s = OnOff(balloon, "autodeflate", &b.autodeflate); !s.ok()) {
    return s;
  }
  if (Status s = OnOff(balloon, "freePageReporting", &b.free_page_reporting);
      !s.ok()) {
    return s;
  }
  b.stats_period_s = 0;
  if (const xmlNode* stats = FirstChild(balloon, "stats")) {
    std::optional<std::string> period = Attribute(stats, "period");
    if (period) {
      int64_t v = -1;
      const char* end = period->data() + period->size();
      auto [ptr, ec] = std::from_chars(period->data(), end, v);
      if (period->empty() || ec != std::errc() || ptr != end || v < 0) {
        return Status::InvalidArgument("domain XML: memballoon stats period='" +
                                       *period +
                                       "' is not a non-negative integer");
      }
      b.stats_period_s = v;
    }
  }
  return facts;
}

}  // namespace memcoord
