using Courier.Security;

namespace Courier.Tests.Security;

/// <summary>A temporary directory of certificates: a server's pair, peers' pairs, and an allow-list directory.</summary>
public sealed class Keys : IDisposable
{
    public Keys()
    {
        Directory.CreateDirectory(AllowDirectory);
        Generate("server");
    }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "courier-keys-" + Guid.NewGuid().ToString("N"));

    public string AllowDirectory => Path.Combine(Root, "allow");

    public string Secret(string name) => Path.Combine(Root, name + ".key_secret");

    public string Public(string name) => Path.Combine(Root, name + ".key");

    public string PublicKeyOf(string name) => CurveCertificate.Load(Public(name)).PublicKey;

    /// <summary>A new pair NAME.key / NAME.key_secret; <paramref name="allow"/> also puts NAME.key in the allow-list.</summary>
    public Keys Generate(string name, bool allow = false)
    {
        CurveCertificate.Generate(new Dictionary<string, string> { ["name"] = name }).Save(Path.Combine(Root, name));
        if (allow)
        {
            Allow(name);
        }

        return this;
    }

    public void Allow(string name) => File.Copy(Public(name), Path.Combine(AllowDirectory, name + ".key"), overwrite: true);

    public void Disallow(string name) => File.Delete(Path.Combine(AllowDirectory, name + ".key"));

    public string WritePolicy(string json)
    {
        var path = Path.Combine(Root, "policy.json");
        File.WriteAllText(path, json);
        return path;
    }

    public CourierSecurityOptions Listener(bool allowList = true, string? policy = null) => new()
    {
        CertificateFile = Secret("server"),
        AllowDirectory = allowList ? AllowDirectory : null,
        PolicyFile = policy,
    };

    public CourierSecurityOptions Connector(string name, string server = "server") => new()
    {
        CertificateFile = Secret(name),
        ServerCertificateFile = Public(server),
    };

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
