using Courier.Security;
using Courier.Security.Internal;
using Courier.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Tests.Unit;

/// <summary>
/// The allow-list and the policy mounted as Kubernetes mounts them from a ConfigMap or Secret: each file a link to
/// <c>..data/NAME</c>, and <c>..data</c> a link to a timestamped directory that an update replaces.
/// </summary>
public sealed class ConfigMapReloadTests : IDisposable
{
    // Every version's files get the same time (and the same size): only where the links lead tells them apart.
    private static readonly DateTime Written = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly string _root = Directory.CreateTempSubdirectory("courier-configmap-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task An_allow_list_mounted_from_a_ConfigMap_is_re_read_when_its_data_directory_is_swapped()
    {
        var first = CurveCertificate.Generate(new Dictionary<string, string> { ["name"] = "alice" });
        var second = CurveCertificate.Generate(new Dictionary<string, string> { ["name"] = "alice" });
        Publish("..2026_01_01_00_00_00.1", "alice.key", CertificateFile.Format(first.PublicOnly(), secret: false));
        var allowList = new AllowList(_root);
        Assert.Equal("alice", allowList.NameOf(first.PublicKey));

        Publish("..2026_01_01_00_01_00.2", "alice.key", CertificateFile.Format(second.PublicOnly(), secret: false));

        await Poll.UntilAsync(() => allowList.NameOf(second.PublicKey) == "alice", TimeSpan.FromSeconds(30), "alice's new key admitted");
        Assert.Null(allowList.NameOf(first.PublicKey));
    }

    [Fact]
    public async Task A_policy_mounted_from_a_ConfigMap_is_re_read_when_its_data_directory_is_swapped()
    {
        Publish("..2026_01_01_00_00_00.1", "policy.json", """{ "clients": { "alice": ["echo"] } }""");
        var policy = new PolicyFile(Path.Combine(_root, "policy.json"), NullLogger.Instance, "test");
        Assert.True(policy.Current.MayCall("k", "alice", "echo"));

        Publish("..2026_01_01_00_01_00.2", "policy.json", """{ "clients": { "bobby": ["echo"] } }""");

        await Poll.UntilAsync(() => policy.Current.MayCall("k", "bobby", "echo"), TimeSpan.FromSeconds(30), "the new policy in force");
        Assert.False(policy.Current.MayCall("k", "alice", "echo"));
    }

    /// <summary>What the kubelet does on an update: a new timestamped directory, <c>..data</c> pointed at it, NAME linked through <c>..data</c>.</summary>
    private void Publish(string version, string name, string text)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_root, version)).FullName;
        var file = Path.Combine(directory, name);
        File.WriteAllText(file, text);
        File.SetLastWriteTimeUtc(file, Written);
        var data = Path.Combine(_root, "..data");
        if (Path.Exists(data))
        {
            File.Delete(data);
        }

        Directory.CreateSymbolicLink(data, version);
        var link = Path.Combine(_root, name);
        if (!Path.Exists(link))
        {
            File.CreateSymbolicLink(link, Path.Combine("..data", name));
        }
    }
}
