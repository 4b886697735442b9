using Courier.Client;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Security;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Security;

/// <summary>Per-service rights from a policy file, on real sockets (native transport only).</summary>
public sealed class PolicyTests : IDisposable
{
    private readonly Keys _keys = new Keys().Generate("alice", allow: true).Generate("bob", allow: true)
        .Generate("good-worker", allow: true).Generate("rogue-worker", allow: true);

    public void Dispose() => _keys.Dispose();

    private string Policy() => _keys.WritePolicy("""
        {
          // alice may call echo and ask the broker; bob only echo
          "clients": { "alice": ["echo", "mmi.*"], "bob": ["echo"] },
          "workers": { "good-worker": ["echo"], "rogue-worker": ["other.*"] }
        }
        """);

    [Fact]
    public async Task Client_without_the_right_to_a_service_gets_403_and_one_with_it_is_served()
    {
        await using var server = await TestServer.StartAsync(
            o => o with { Security = _keys.Listener(policy: Policy()) },
            s => s.Map("payroll", (request, _) => ValueTask.FromResult(request.Frames)));
        await using var alice = TestServer.Client(server.Endpoint!, o => o with { Security = _keys.Connector("alice") });
        await using var bob = TestServer.Client(server.Endpoint!, o => o with { Security = _keys.Connector("bob") });

        var payroll = await Assert.ThrowsAsync<CourierRemoteException>(() => alice.RequestAsync("payroll", "x"));
        var mmi = await Assert.ThrowsAsync<CourierRemoteException>(() => bob.RequestAsync("mmi.service", "payroll"));

        Assert.Equal(CourierStatus.Forbidden, payroll.StatusCode);
        Assert.Equal(CourierStatus.Forbidden, mmi.StatusCode);
        Assert.Equal("fine", (await bob.RequestAsync("echo", "fine")).BodyText);
        Assert.Equal("200", (await alice.RequestAsync("mmi.service", "echo")).BodyText);
    }

    [Fact]
    public async Task Worker_without_the_right_to_its_service_gets_DISCONNECT_and_never_a_request()
    {
        using var rogueLogs = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { Security = _keys.Listener(policy: Policy()) });
        var rogueCalls = 0;
        await using var rogue = await TestBroker.StartWorkerAsync(broker.Endpoint!, "rogue",
            configure: o => o with { Security = _keys.Connector("rogue-worker"), LoggerFactory = rogueLogs },
            handler: (request, _) =>
            {
                Interlocked.Increment(ref rogueCalls);
                return ValueTask.FromResult(request.Frames);
            });
        await using var good = await TestBroker.StartWorkerAsync(broker.Endpoint!, "good", configure: o => o with { Security = _keys.Connector("good-worker") });
        await using var alice = TestServer.Client(broker.Endpoint!, o => o with { Security = _keys.Connector("alice"), Timeout = TimeSpan.FromSeconds(20) });

        await Poll.UntilAsync(() => rogueLogs.Contains("the broker said DISCONNECT"), TimeSpan.FromSeconds(30), "the rogue worker told DISCONNECT");
        await TestBroker.WaitForWorkersAsync(alice, "echo", 1);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("good", System.Text.Encoding.UTF8.GetString((await alice.RequestAsync("echo", "secret")).Frames[0].Span));
        }

        Assert.Equal(0, Volatile.Read(ref rogueCalls));
        Assert.Equal(["good"], (await TestBroker.WorkersAsync(alice, "echo")).Select(w => w.Name));
    }

    [Fact]
    public async Task A_worker_whose_right_a_policy_change_withdraws_is_disconnected_and_given_no_more_requests()
    {
        var path = Policy();

        // The worker's key (a leaked one, say) loses echo; the worker stays connected and says nothing.
        await AssertCutWhenWithdrawnAsync(_keys.Listener(policy: path), () =>
        {
            File.WriteAllText(path, """{ "clients": { "alice": ["echo", "mmi.*"] }, "workers": { "good-worker": ["other.*"] } }""");
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5)); // a change however coarse the file system's clock
        });
    }

    [Fact]
    public async Task A_worker_whose_certificate_leaves_the_allow_list_is_disconnected_without_a_policy()
    {
        // An allow-list alone: the worker's key admitted it at the handshake, and nothing checked it after. A leaked
        // worker key whose certificate was removed went on receiving other clients' requests until it reconnected.
        await AssertCutWhenWithdrawnAsync(_keys.Listener(), () => _keys.Disallow("good-worker"));
    }

    /// <summary>
    /// A broker secured by <paramref name="listener"/> with a worker of echo serving alice; <paramref name="withdraw"/>
    /// takes its right away: it is told DISCONNECT, forgotten, and given no request after.
    /// </summary>
    private async Task AssertCutWhenWithdrawnAsync(CourierSecurityOptions listener, Action withdraw)
    {
        using var workerLogs = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { Security = listener });
        var calls = 0;
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "good",
            configure: o => o with { Security = _keys.Connector("good-worker"), LoggerFactory = workerLogs },
            handler: (request, _) =>
            {
                Interlocked.Increment(ref calls);
                return ValueTask.FromResult(request.Frames);
            });
        await using var alice = TestServer.Client(broker.Endpoint!, o => o with { Security = _keys.Connector("alice"), Timeout = TimeSpan.FromSeconds(20) });
        await TestBroker.WaitForWorkersAsync(alice, "echo", 1);
        Assert.Equal("x", (await alice.RequestAsync("echo", "x")).BodyText);

        withdraw();

        await Poll.UntilAsync(() => workerLogs.Contains("the broker said DISCONNECT"), TimeSpan.FromSeconds(30), "the worker told DISCONNECT");
        await Poll.UntilAsync(async () => (await TestBroker.WorkersAsync(alice, "echo")).Count == 0, TimeSpan.FromSeconds(30), "echo without workers");
        var before = Volatile.Read(ref calls);
        await Assert.ThrowsAnyAsync<CourierException>(() => alice.RequestAsync("echo", "secret", CourierRequestOptions.Default with { Deadline = TimeSpan.FromSeconds(2) }));
        Assert.Equal(before, Volatile.Read(ref calls));
    }

    [Fact]
    public async Task A_changed_policy_file_takes_effect_without_a_restart()
    {
        var path = Policy();
        await using var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener(policy: path) });
        await using var bob = TestServer.Client(server.Endpoint!, o => o with { Security = _keys.Connector("bob") });
        Assert.Equal("x", (await bob.RequestAsync("echo", "x")).BodyText);

        File.WriteAllText(path, """{ "clients": { "alice": ["echo"] } }""");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5)); // a change however coarse the file system's clock

        await Poll.UntilAsync(async () =>
        {
            try
            {
                await bob.RequestAsync("echo", "x");
                return false;
            }
            catch (CourierRemoteException ex) when (ex.StatusCode == CourierStatus.Forbidden)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(30), "bob refused under the new policy");
    }

    [Fact]
    public async Task Refused_READYs_are_logged_at_a_bounded_rate()
    {
        const int Readies = 3000;
        using var logs = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { Security = _keys.Listener(policy: Policy()), LoggerFactory = logs });
        await using var good = await TestBroker.StartWorkerAsync(broker.Endpoint!, "good",
            configure: o => o with { Security = _keys.Connector("good-worker") }, handler: (request, _) => ValueTask.FromResult(request.Frames));
        await using var alice = TestServer.Client(broker.Endpoint!, o => o with { Security = _keys.Connector("alice"), Timeout = TimeSpan.FromSeconds(20) });
        await TestBroker.WaitForWorkersAsync(alice, "echo", 1);
        await using var canary = await Canary.StartAsync(broker.Endpoint!, configure: o => o with { Security = _keys.Connector("alice") });

        // A worker with an admitted key that ignores every DISCONNECT and asks again, on one connection.
        using var rogue = new DealerSocket();
        rogue.Options.Linger = TimeSpan.Zero;
        rogue.Options.CurveServerKey = Z85Key(CurveCertificate.Load(_keys.Public("server")).PublicKey);
        var own = CurveCertificate.Load(_keys.Secret("rogue-worker"));
        rogue.Options.CurveCertificate = new NetMQCertificate(Z85Key(own.SecretKey!), Z85Key(own.PublicKey));
        rogue.Connect(broker.Endpoint!);
        for (var i = 0; i < Readies; i++)
        {
            rogue.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Ready]).SendFrame("payroll");
        }

        // One connection is read in order: once its last READY (for a service it may serve) registers, the broker read them all.
        rogue.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Ready]).SendFrame("other.sentinel");
        await TestBroker.WaitForWorkersAsync(alice, "other.sentinel", 1);

        await canary.AssertUnharmedAsync();
        var refusals = logs.Messages.Count(m => m.Contains("may not serve payroll", StringComparison.Ordinal));
        Assert.InRange(refusals, 1, new Courier.Transport.TransportOptions().ViolationLogBurst);
        Assert.True(logs.Messages.Count < 100, $"{logs.Messages.Count} log lines for {Readies} refused READYs");
    }

    private static byte[] Z85Key(string z85) => Courier.Security.Internal.Z85.TryDecode(z85, out _)!;
}
