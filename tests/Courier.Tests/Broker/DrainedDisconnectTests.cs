using System.Text;
using Courier.Client;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Worker;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>
/// A request the broker sends a worker just as that worker says DISCONNECT crosses it: the worker never reads it, so it
/// never ran. A courier/6 worker that answered all it took says so ("drained"), and the broker gives such requests to
/// another worker instead of answering them 520 outcome unknown (docs/protocol.md §3). Each half is tested against a
/// fake of the other, since the crossing itself cannot be timed from outside.
/// </summary>
public sealed class DrainedDisconnectTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("courier/6", true, true)]
    [InlineData("courier/6", false, false)] // a plain DISCONNECT: it may have run what it held
    [InlineData("courier/5", true, false)] // the frame means nothing before courier/6
    [InlineData(null, true, true)] // a plain 7/MDP registration: a Courier worker whose probe went unanswered says it as it registers again
    [InlineData(null, false, false)]
    public async Task A_request_held_by_a_worker_that_said_it_drained_goes_to_another_worker(string? version, bool saysDrained, bool servedElsewhere)
    {
        // Slow heartbeats: the fake worker sends none.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(30) });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = Wait, Retries = 0 });
        using var fake = await RawWorker.RegisterAsync(broker.Endpoint!, client, "crossing", version is null ? null : $"{version} capacity=1 name=leaving");

        // Not idempotent: only the worker's word lets the broker run it elsewhere.
        var pending = client.RequestAsync("crossing", "once");
        if (version is null)
        {
            fake.ReceivePlainRequest();
        }
        else
        {
            fake.ReceiveRequest();
        }

        // The request is left unread, as one that crossed the DISCONNECT would be.
        fake.SayDisconnect(saysDrained);
        await TestBroker.WaitForWorkersAsync(client, "crossing", 0);
        await using var staying = await TestBroker.StartWorkerAsync(broker.Endpoint!, "staying", service: "crossing");
        if (servedElsewhere)
        {
            Assert.Equal("staying", (await pending.WaitAsync(Wait)).BodyText);
        }
        else
        {
            await Assert.ThrowsAsync<CourierOutcomeUnknownException>(() => pending.WaitAsync(Wait));
        }
    }

    [Fact]
    public async Task A_request_its_caller_cancelled_is_not_given_to_another_worker_when_its_worker_says_it_drained()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(30) });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = Wait, Retries = 0 });
        using var fake = await RawWorker.RegisterAsync(broker.Endpoint!, client, "crossing", "courier/6 capacity=1 name=leaving");

        using var cancel = new CancellationTokenSource();
        var cancelled = client.RequestAsync("crossing", "cancelled", cancellationToken: cancel.Token);
        fake.ReceiveRequest();

        // The caller gives up; the broker tells the worker (CANCEL), which then leaves having answered nothing.
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        fake.Receive(f => f.Count >= 1 && f[0].Length > 6 && f[0].AsSpan().StartsWith("CURW05"u8) && f[0][6] == 0x06, "CANCEL");
        fake.SayDisconnect(drained: true);
        await TestBroker.WaitForWorkersAsync(client, "crossing", 0);

        // Nobody waits for the cancelled one: the next worker gets only the request after it.
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var staying = await TestBroker.StartWorkerAsync(broker.Endpoint!, "staying", service: "crossing", handler: (request, _) =>
        {
            seen.Enqueue(request.BodyText);
            return ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(request.Frames);
        });
        Assert.Equal("after", (await client.RequestAsync("crossing", "after").WaitAsync(Wait)).BodyText);
        Assert.Equal(["after"], seen);
    }

    [Theory]
    [InlineData("courier/6", false, true)]
    [InlineData("courier/5", false, false)] // an older broker would not know the frame
    [InlineData("courier/6", true, false)] // a handler outlived the drain: what it held may have run
    public async Task A_stopping_worker_says_drained_only_to_a_courier_6_broker_and_only_when_it_answered_all_it_took(string version, bool stuckHandler, bool saysDrained)
    {
        using var broker = new RouterSocket();
        broker.Options.Linger = TimeSpan.Zero;
        var port = broker.BindRandomPort("tcp://127.0.0.1");
        using var release = new SemaphoreSlim(0);
        CourierHandler handler = async (request, cancellationToken) =>
        {
            // The stuck one ignores its token, as a handler blocked in a call without one would.
            await release.WaitAsync(stuckHandler ? CancellationToken.None : cancellationToken);
            return request.Frames;
        };
        var options = TestBroker.WorkerOptions($"tcp://127.0.0.1:{port}", "leaving") with
        {
            Service = "echo",
            HeartbeatInterval = Wait, // the fake broker never heartbeats
            DrainTimeout = stuckHandler ? TimeSpan.FromMilliseconds(200) : Wait,
        };
        await using var worker = new CourierWorker(options, handler);
        await worker.StartAsync();

        var (identity, _, _) = RawBroker.Register(broker, version, Wait);
        RawBroker.SendRequest(broker, identity, 1, "echo", "held"u8.ToArray());
        await Poll.UntilAsync(() => worker.InFlight == 1);

        var stopping = worker.StopAsync();
        if (!stuckHandler)
        {
            release.Release();
        }

        // What it sent, in order, up to its DISCONNECT (heartbeats skipped): the reply first unless its handler was stuck;
        // then the probe that asks whether the broker read it all, which the worker waits for before it closes.
        var sent = new List<string>();
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + Wait;
        while (true)
        {
            Assert.True(broker.TryReceiveMultipartBytesBefore(until, ref frames!), $"no DISCONNECT after [{string.Join(", ", sent)}]");
            if (frames.Count >= 4 && frames[3].AsSpan().SequenceEqual([MdpWorker.Disconnect]))
            {
                sent.Add(string.Join(" ", frames.Skip(4).Select(f => Encoding.UTF8.GetString(f)).Prepend("DISCONNECT")));
                break;
            }

            if (frames.Count >= 2 && frames[1].Length == CourierWorkerFrame.ReplyLength)
            {
                sent.Add("REPLY " + Encoding.ASCII.GetString(frames[1], 15, 3));
            }
        }

        if (!stuckHandler)
        {
            // Its DrainTimeout, which bounds that wait, is long here: the worker is still waiting for the answer.
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            Assert.False(stopping.IsCompleted, "the stop did not wait for the broker to confirm it read the replies");
        }

        RawBroker.AnswerReadReceipt(new NetMqRawRouter(broker), version, Wait);
        // Well within its DrainTimeout: the answer ended the wait.
        await stopping.WaitAsync(TimeSpan.FromSeconds(5));
        release.Release();

        string[] expected = stuckHandler ? [] : ["REPLY 200"];
        Assert.Equal([.. expected, saysDrained ? "DISCONNECT drained" : "DISCONNECT"], sent);
    }

    /// <summary>
    /// A worker whose probe went unanswered registers as plain 7/MDP; when the late answer comes it registers again on a
    /// new connection, closing the plain one with whatever the broker sent there meanwhile, unread. Before, it closed it
    /// without a word: the broker held such a request until the plain registration expired, then answered it 520
    /// (outcome unknown) though it never ran. It now says DISCONNECT first, "drained" to a broker that reads it.
    /// </summary>
    [Theory]
    [InlineData("courier/7", "DISCONNECT drained")]
    [InlineData("courier/5", "DISCONNECT")] // the frame means nothing before courier/6
    public async Task A_worker_registering_again_after_a_late_probe_answer_says_its_plain_connection_drained(string version, string expected)
    {
        using var broker = new RouterSocket();
        broker.Options.Linger = TimeSpan.Zero;
        var port = broker.BindRandomPort("tcp://127.0.0.1");
        // The probe times out after 3 × 2 s; the fake broker never heartbeats, and answers well within as long after that.
        var options = TestBroker.WorkerOptions($"tcp://127.0.0.1:{port}", "early") with
        {
            Service = "echo",
            HeartbeatInterval = TimeSpan.FromSeconds(2),
            HeartbeatLiveness = 3,
            DrainTimeout = TimeSpan.FromSeconds(1),
        };
        await using var worker = new CourierWorker(options, TestBroker.Named("early"));
        await worker.StartAsync();

        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + Wait;
        Assert.True(broker.TryReceiveMultipartBytesBefore(until, ref frames!), "no probe");
        Assert.Equal("mmi.courier", Encoding.ASCII.GetString(frames[3]));
        var plain = frames[0];
        Assert.True(broker.TryReceiveMultipartBytesBefore(until, ref frames!), "no READY once the probe timed out");
        Assert.Equal(["", "MDPW01", "\u0001", "echo"], frames.Skip(1).Select(f => Encoding.ASCII.GetString(f)));

        // The late answer, and right behind it a request for the plain registration, which the worker will not read.
        var raw = new NetMqRawRouter(broker);
        raw.Send(plain, [], "MDPC01"u8.ToArray(), "mmi.courier"u8.ToArray(), "200"u8.ToArray(), Encoding.ASCII.GetBytes(version));
        raw.Send(plain, [], "MDPW01"u8.ToArray(), [MdpWorker.Request], "client"u8.ToArray(), [], "unread"u8.ToArray());

        // On the plain connection, heartbeats, then its DISCONNECT and nothing else (no reply); on a new one, a probe.
        string? said = null;
        var probedAgain = false;
        while (said is null || !probedAgain)
        {
            Assert.True(broker.TryReceiveMultipartBytesBefore(until, ref frames!), $"said {said ?? "nothing"}, probed again: {probedAgain}");
            if (frames[0].AsSpan().SequenceEqual(plain) && frames[3] is not [MdpWorker.Heartbeat])
            {
                Assert.Null(said);
                Assert.Equal([MdpWorker.Disconnect], frames[3]);
                said = string.Join(" ", frames.Skip(4).Select(f => Encoding.UTF8.GetString(f)).Prepend("DISCONNECT"));
            }
            else if (frames.Count == 5 && Encoding.ASCII.GetString(frames[3]) == "mmi.courier")
            {
                probedAgain = true;
            }
        }

        Assert.Equal(expected, said);
    }
}
