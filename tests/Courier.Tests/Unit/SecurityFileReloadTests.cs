using Courier.Security;
using Courier.Security.Internal;
using Courier.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Courier.Tests.Unit;

/// <summary>
/// The allow-list and the policy re-read from files an operator edits: what a mistake on disk (a file that cannot be
/// read, a duplicate, a pipe) does to what is admitted, and how often it is logged.
/// </summary>
public sealed class SecurityFileReloadTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("courier-reload-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Write(string name, string text, DateTime? time = null)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, text);
        File.SetLastWriteTimeUtc(path, time ?? DateTime.UtcNow);
        return path;
    }

    private static string PublicCertificate(CurveCertificate certificate) => CertificateFile.Format(certificate.PublicOnly(), secret: false);

    [Fact]
    public async Task A_key_in_two_certificates_is_named_by_the_first_in_name_order_and_the_other_is_reported_once()
    {
        var key = CurveCertificate.Generate();
        Write("zed.key", PublicCertificate(key));
        Write("amy.key", PublicCertificate(key));
        var reports = new List<string>();
        var allowList = new AllowList(_root, reports.Add);

        Assert.Equal("amy", allowList.NameOf(key.PublicKey));
        Assert.Single(reports, r => r.Contains("zed.key: the same public key as amy.key", StringComparison.Ordinal));

        // Another file's arrival makes the directory read again: the duplicate, unchanged, is not reported again.
        var other = CurveCertificate.Generate();
        Write("bob.key", PublicCertificate(other));
        await Poll.UntilAsync(() => allowList.NameOf(other.PublicKey) == "bob", TimeSpan.FromSeconds(30), "bob admitted");
        Assert.Equal("amy", allowList.NameOf(key.PublicKey));
        Assert.Single(reports);
    }

    [Fact]
    public async Task A_named_pipe_or_an_oversized_file_among_the_certificates_is_refused_unread_and_the_others_still_count()
    {
        var alice = CurveCertificate.Generate();
        Write("alice.key", PublicCertificate(alice));
        await NamedPipe.CreateAsync(Path.Combine(_root, "pipe.key"));

        Write("huge.key", PublicCertificate(CurveCertificate.Generate()) + new string('#', AllowList.MaxCertificateBytes));
        var reports = new List<string>();

        // Read unbounded, the pipe blocked the reader (here the constructor; at a re-read, every handshake) for good.
        var allowList = await Task.Run(() => new AllowList(_root, reports.Add)).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("alice", allowList.NameOf(alice.PublicKey));
        Assert.Equal(1, allowList.Count);
        Assert.Contains(reports, r => r.Contains("pipe.key: 0 bytes: not a certificate", StringComparison.Ordinal));
        Assert.Contains(reports, r => r.Contains("huge.key", StringComparison.Ordinal) && r.Contains("not a certificate", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_lookup_while_the_allow_list_is_re_read_is_answered_by_the_snapshot_in_force_without_waiting()
    {
        // Each check of a large directory stalled whoever looked a key up: the ZAP thread (every listener's handshakes)
        // or a broker's loop. In use, the check runs on a pool thread; after a quiet spell the caller checks itself,
        // so that a certificate removed meanwhile is not admitted by an old snapshot.
        var alice = CurveCertificate.Generate();
        var bob = CurveCertificate.Generate();
        Write("alice.key", PublicCertificate(alice));
        var allowList = new AllowList(_root);
        using var release = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        var lookups = 0;
        var readsByLooker = 0;
        var answeredWhileHeld = false;
        var bobPath = Path.Combine(_root, "bob.key");
        var looker = new Thread(() =>
        {
            var until = DateTime.UtcNow.AddSeconds(30);
            var seen = 0;
            while (!answeredWhileHeld && DateTime.UtcNow < until)
            {
                answeredWhileHeld = held.IsSet && allowList.NameOf(alice.PublicKey) == "alice";
                _ = allowList.NameOf(bob.PublicKey);
                lookups++;
                if (Volatile.Read(ref readsByLooker) > seen)
                {
                    // It checked itself (a busy thread pool took two checks' time to start one): something new to
                    // read for the next check, so that one on a pool thread comes.
                    seen = Volatile.Read(ref readsByLooker);
                    File.SetLastWriteTimeUtc(bobPath, DateTime.UtcNow.AddSeconds(seen));
                }

                Thread.Sleep(5);
            }
        });
        allowList.BeforeRead = () =>
        {
            if (Environment.CurrentManagedThreadId == looker.ManagedThreadId)
            {
                Interlocked.Increment(ref readsByLooker);
            }
            else
            {
                held.Set();
                release.Wait(TimeSpan.FromSeconds(5)); // let go in the end: a quiet spell's check waits for this one
            }
        };
        Write("bob.key", PublicCertificate(bob));

        looker.Start();
        await Poll.UntilAsync(() => !looker.IsAlive, TimeSpan.FromSeconds(60), "the looker done (a lookup waited for the held re-read)");
        Assert.True(answeredWhileHeld, $"no re-read off the looker's thread in 30 s ({lookups} lookups, {readsByLooker} re-reads made by the looker)");
        release.Set();
        await Poll.UntilAsync(() => allowList.NameOf(bob.PublicKey) == "bob", TimeSpan.FromSeconds(30), "bob admitted");
    }

    [Fact]
    public async Task A_policy_mended_in_place_with_its_broken_versions_time_and_size_takes_effect()
    {
        // A copy that keeps times (cp -p, rsync -t, an archive) can land the mended file with the broken one's stamp; so
        // does a chmod, which changes neither. A failed read is not taken as read: the file is tried again.
        var time = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var path = Write("policy.json", """{ "clients": { "alice": ["echo"] } }""");
        using var log = new RecordingLoggerFactory();
        var policy = new PolicyFile(path, log.CreateLogger("test"), "test");

        Write("policy.json", """{ "clients": { "bobby": ["echo"] }""", time); // a brace short
        await Poll.UntilAsync(() => policy.Current is not null && log.Contains("not valid JSON"), TimeSpan.FromSeconds(30), "the broken version refused");
        Assert.True(policy.Current.MayCall("k", "alice", "echo")); // the last good one stays in force
        Write("policy.json", """{ "clients": { "bobby": ["echo"]}}""", time);

        await Poll.UntilAsync(() => policy.Current.MayCall("k", "bobby", "echo"), TimeSpan.FromSeconds(30), "the mended policy in force");
        Assert.False(policy.Current.MayCall("k", "alice", "echo"));
    }

    [Fact]
    public async Task A_deleted_policy_keeps_the_last_in_force_and_is_logged_once_not_at_every_check()
    {
        var path = Write("policy.json", """{ "clients": { "alice": ["echo"] } }""");
        using var log = new RecordingLoggerFactory();
        var policy = new PolicyFile(path, log.CreateLogger("test"), "test");

        File.Delete(path);
        // Six checks' worth (one every 250 ms): the absence of more lines is what is asserted, so the time is waited out.
        var until = DateTime.UtcNow + 6 * AllowList.CheckInterval;
        while (DateTime.UtcNow < until)
        {
            Assert.True(policy.Current.MayCall("k", "alice", "echo"));
            await Task.Delay(25);
        }

        Assert.Single(log.Entries, e => e.Level == LogLevel.Error);
    }

    [Fact]
    public async Task A_policy_replaced_by_a_named_pipe_or_an_oversized_file_is_refused_unread_and_the_last_stays_in_force()
    {
        var path = Write("policy.json", """{ "clients": { "alice": ["echo"] } }""");
        using var log = new RecordingLoggerFactory();
        var policy = new PolicyFile(path, log.CreateLogger("test"), "test");

        // A pipe where the policy was: read unbounded, the check (on a broker's loop thread) waited for a writer for good.
        var pipe = Path.Combine(_root, "pipe");
        await NamedPipe.CreateAsync(pipe);

        File.Move(pipe, path, overwrite: true);
        await Task.Run(async () =>
        {
            await Poll.UntilAsync(() => policy.Current.MayCall("k", "alice", "echo") && log.Entries.Any(e => e.Level == LogLevel.Error), TimeSpan.FromSeconds(10), "the pipe refused");
        }).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(log.Entries, e => e.Message.Contains("0 bytes: not a policy file", StringComparison.Ordinal));

        // Past the size limit (a policy parses on the loop thread): refused, not parsed.
        File.Delete(path);
        Write("policy.json", """{ "clients": { "bob": ["echo"] } }""" + new string(' ', PolicyFile.MaxPolicyBytes));
        await Poll.UntilAsync(() => log.Entries.Count(e => e.Level == LogLevel.Error) >= 2 || policy.Current.MayCall("k", "bob", "echo"), TimeSpan.FromSeconds(10), "the large file refused");
        Assert.True(policy.Current.MayCall("k", "alice", "echo"));
        Assert.False(policy.Current.MayCall("k", "bob", "echo"));
        Assert.Contains(log.Entries, e => e.Message.Contains($"policy.json: {new FileInfo(path).Length} bytes: not a policy file", StringComparison.Ordinal));
    }
}
