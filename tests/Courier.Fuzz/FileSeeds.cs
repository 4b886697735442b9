using Courier.Security;
using Courier.Security.Internal;

namespace Courier.Fuzz;

/// <summary>
/// Seeds for the file targets: a certificate pair as Courier writes it (the layout czmq and pyzmq's <c>zmq.auth</c>
/// write), ZPL as other writers lay it out, and the policies of docs/security.md.
/// </summary>
internal static class FileSeeds
{
    public static IEnumerable<(string Target, string Name, string Text)> All()
    {
        var pair = CurveCertificate.Generate(new Dictionary<string, string> { ["name"] = "alice", ["role"] = "client" });
        yield return ("certificate", "alice.key", CertificateFile.Format(pair, secret: false));
        yield return ("certificate", "alice.key_secret", CertificateFile.Format(pair, secret: true));
        var bare = CurveCertificate.Generate();
        yield return ("certificate", "bare.key_secret", CertificateFile.Format(bare, secret: true));

        // ZPL as other writers use it: CRLF, tabs, single quotes, unquoted values with a trailing comment, another section.
        yield return ("certificate", "zpl-variants.key",
            $"# written by hand\r\nmetadata\r\n\tname = 'bob'   # the operator\r\n\tsite = lab # unquoted\r\ncontext\r\n    x = \"y\"\r\ncurve\r\n\tpublic-key = '{pair.PublicKey}'\r\n");

        yield return ("policy", "security-md.json", """
            {
              // comments and trailing commas are allowed
              "clients": {
                "web-frontend": ["orders.*", "echo"],
                "ops":          ["mmi.*", "*"],
                "*":            ["echo"]
              },
              "workers": {
                "orders-worker": ["orders.*"],
                "rF8N?9J$K1s6Lx@2bHwq^c7Vt&3mEpZu!dYgA0oR": ["echo"]
              }
            }
            """);
        yield return ("policy", "clients-only.json", """{ "clients": { "alice": ["orders.*", "mmi.*"], "*": ["echo"] } }""");
        yield return ("policy", "empty.json", "{}");
    }
}
