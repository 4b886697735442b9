using System.Runtime.InteropServices;
using Courier.Security;
using Courier.Security.Internal;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Unit;

/// <summary>
/// A re-read of the allow-list that meets the descriptor limit for real (EMFILE): the process's soft limit is lowered to
/// 1 while the directory is read, so every open(2) fails, and raised again at once. It keeps the keys in force; before,
/// the list read as unreadable, admitted no one, and a broker cut every registered worker for it.
/// </summary>
[Collection(Name)]
public sealed partial class DescriptorShortageTests : IDisposable
{
    public const string Name = "descriptor limit lowered";
    private const int RlimitNoFile = 7;
    private readonly string _root = Directory.CreateTempSubdirectory("courier-shortage-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task The_allow_list_keeps_its_keys_when_a_check_meets_the_descriptor_limit_and_reads_the_directory_again_after()
    {
        var alice = CurveCertificate.Generate();
        var bob = CurveCertificate.Generate();
        File.WriteAllText(Path.Combine(_root, "alice.key"), CertificateFile.Format(alice.PublicOnly(), secret: false));
        var unreadable = new List<string>();
        var shortages = new List<string>();
        var saved = Limit();
        var armed = 1;
        var allowList = new AllowList(_root, onUnreadable: Restore(unreadable), onShortage: Restore(shortages));
        allowList.BeforeRead = () =>
        {
            if (Interlocked.Exchange(ref armed, 0) == 1)
            {
                SetLimit(saved with { Current = 1 });
            }
        };

        try
        {
            // Something new to read: the next check reads the directory, and meets the limit.
            File.WriteAllText(Path.Combine(_root, "bob.key"), CertificateFile.Format(bob.PublicOnly(), secret: false));
            await Poll.UntilAsync(
                () =>
                {
                    Assert.Equal("alice", allowList.NameOf(alice.PublicKey));
                    lock (shortages)
                    {
                        return shortages.Count > 0 || unreadable.Count > 0;
                    }
                },
                TimeSpan.FromSeconds(30),
                "a check meets the limit");

            Assert.Empty(unreadable);
            Assert.Contains("Too many open files", Assert.Single(shortages), StringComparison.Ordinal);
            Assert.Equal("alice", allowList.NameOf(alice.PublicKey));

            // The limit back, the next check reads what changed.
            await Poll.UntilAsync(() => allowList.NameOf(bob.PublicKey) == "bob", TimeSpan.FromSeconds(30), "bob admitted after the shortage");
            Assert.Equal("alice", allowList.NameOf(alice.PublicKey));
            Assert.Single(shortages);
        }
        finally
        {
            SetLimit(saved);
        }

        // Raised again on the thread that met the limit, before anything else it does: nothing else in the process
        // (xunit's own files, other tests' sockets) meets it for longer than one failed read.
        Action<string> Restore(List<string> into) => problem =>
        {
            SetLimit(saved);
            lock (into)
            {
                into.Add(problem);
            }
        };
    }

    private static RLimit Limit() => GetRLimit(RlimitNoFile, out var limit) == 0 ? limit : throw new InvalidOperationException($"getrlimit: {Marshal.GetLastPInvokeError()}");

    private static void SetLimit(RLimit limit)
    {
        if (SetRLimit(RlimitNoFile, limit) != 0)
        {
            throw new InvalidOperationException($"setrlimit: {Marshal.GetLastPInvokeError()}");
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct RLimit(ulong Current, ulong Maximum);

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);
}

/// <summary>The process's descriptor limit is lowered for an instant: run after the others, alone.</summary>
[CollectionDefinition(DescriptorShortageTests.Name, DisableParallelization = true)]
public sealed class DescriptorLimitLowered;
