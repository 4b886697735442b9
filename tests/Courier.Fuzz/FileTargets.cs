using Courier.Security;
using Courier.Security.Internal;

namespace Courier.Fuzz;

/// <summary>
/// czmq/pyzmq certificate files (<see cref="CertificateFile"/>): what parses has a 40-character Z85 public key (and
/// secret key, if any), and written back by <see cref="CertificateFile.Format"/> reads back the same.
/// </summary>
internal sealed class CertificateTarget : FileTarget
{
    public override string Name => "certificate";

    protected override object Parse(string text, string path) => CertificateFile.Parse(text, path);

    protected override void Check(object parsed)
    {
        var certificate = (CurveCertificate)parsed;
        foreach (var key in (string?[])[certificate.PublicKey, certificate.SecretKey])
        {
            if (key is not null && Z85.TryDecode(key, out _)?.Length != 32)
            {
                throw new ContractException($"parsed a key that is not 32 bytes of Z85: '{key}'");
            }
        }

        foreach (var secret in (bool[])[false, true])
        {
            if (secret && certificate.SecretKey is null)
            {
                continue;
            }

            var written = CertificateFile.Format(certificate, secret);
            var again = CertificateFile.Parse(written, Path);
            if (again.PublicKey != certificate.PublicKey || again.SecretKey != (secret ? certificate.SecretKey : null)
                || again.Metadata.Count != certificate.Metadata.Count
                || certificate.Metadata.Any(m => !again.Metadata.TryGetValue(m.Key, out var value) || value != m.Value))
            {
                throw new ContractException($"a certificate written back does not read back the same:\n{written}");
            }
        }
    }
}

/// <summary>Per-service rights (<see cref="ServicePolicy"/>, JSON, docs/security.md).</summary>
internal sealed class PolicyTarget : FileTarget
{
    public override string Name => "policy";

    protected override object Parse(string text, string path) => ServicePolicy.Parse(text, path);

    protected override void Check(object parsed)
    {
        // Asking a parsed policy anything must not throw either.
        var policy = (ServicePolicy)parsed;
        _ = policy.MayCall("rF8N?9J$K1s6Lx@2bHwq^c7Vt&3mEpZu!dYgA0oR", "web-frontend", "orders.create");
        _ = policy.MayServe("rF8N?9J$K1s6Lx@2bHwq^c7Vt&3mEpZu!dYgA0oR", null, "echo");
    }
}
