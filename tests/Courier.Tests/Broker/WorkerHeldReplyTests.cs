using System.Text;
using System.Text.RegularExpressions;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Worker;

namespace Courier.Tests.Broker;

/// <summary>
/// A worker whose broker does not read: its socket refuses replies at its high-water mark. The worker holds them and sends
/// them again, in order, once the broker reads, so that no answered request stays counted as held by it, and a graceful
/// stop waits for them; only replies still held when the connection ends (the drain over, or more held than its bound) are
/// lost, and then its DISCONNECT does not say "drained" (the broker must not give a request that ran to another worker).
/// Against a fake broker, which can stop reading at will.
/// </summary>
public sealed partial class WorkerHeldReplyTests
{
    private const int Requests = 24;
    private const int BodySize = 1024 * 1024;

    /// <summary>
    /// The capacity of the bound tests' worker (its concurrency: the test workers prefetch nothing), fewer than the
    /// requests its broker sends. Its handlers run inline: each request is answered before the next is read, so none is
    /// refused for want of a place and every reply held is a body's.
    /// </summary>
    private const int Capacity = 8;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [SkippableTheory]
    [InlineData(Requests, BodySize, 1, 0)] // each reply alone (too large for a batch)
    [InlineData(800, 8 * 1024, 16, 0)] // replies packed in batches: ~115 messages, a high-water mark's worth sent again a tick
    // The default high-water mark and a byte budget of 4 MiB, which the 24 MiB of replies pass: within the worker's
    // capacity, so held and waited for, not a reason to end the connection (which lost them all).
    [InlineData(Requests, BodySize, 10_000, 4 * 1024 * 1024)]
    public async Task Replies_refused_while_the_broker_does_not_read_reach_it_once_it_reads_and_a_stop_waits_for_them(int requests, int bodySize, int highWatermark, long bound)
    {
        // With NetMQ at either end the held replies stop leaving part way through, though not in every run: a NetMQ worker
        // against this libzmq broker (23 of 24 here, in 1 run of 8), and before, a libzmq worker against a NetMQ broker
        // (516 of 800) whose TCP connection closed as it caught up (seen with ss). The worker retries at every turn and tick,
        // and its DEALER refuses every time: NetMQ under this backpressure, not the retry. Then the stop's drain ends at its
        // timeout and what is left is lost, counted, as the next test asserts on both transports.
        Skip.If(TestTransport.IsManaged, "NetMQ's DEALER may stay refusing after this backpressure (see the comment)");
        var logs = new RecordingLoggerFactory();
        using var broker = UnreadBroker();
        await using var worker = await RegisteredWorkerAsync(broker, logs, o => o with
        {
            Concurrency = requests,
            Transport = o.Transport with
            {
                SendHighWatermark = highWatermark,
                MaxPendingBytesPerPeer = bound > 0 ? bound : o.Transport.MaxPendingBytesPerPeer,
            },
            DrainTimeout = Wait,
        });

        SendRequests(broker, worker.Identity, requests, bodySize);
        await Poll.UntilAsync(() => logs.Contains("the broker has not read yet"), Wait, "no reply refused:\n" + string.Join("\n", logs.Messages));
        await Poll.UntilAsync(() => Volatile.Read(ref worker.Ran) == requests && worker.Worker.InFlight == 0, Wait, "not every request ran");

        // A graceful stop now waits for what is held (within its DrainTimeout); the broker reads again.
        var stopping = worker.Worker.StopAsync();
        var replied = new List<int>();
        var until = DateTime.UtcNow + Wait;
        string? disconnect = null;
        while (disconnect is null)
        {
            Assert.True(broker.TryReceive(until - DateTime.UtcNow, out var frames), $"{replied.Count} replies and no DISCONNECT:\n" + string.Join("\n", logs.Messages));
            replied.AddRange(Replies(frames));
            disconnect = Disconnect(frames);
        }

        RawBroker.AnswerReadReceipt(broker, "courier/6", Wait);
        await stopping.WaitAsync(Wait);
        Assert.Equal(Enumerable.Range(0, requests), replied.Order());
        Assert.Equal("DISCONNECT drained", disconnect);
        Assert.False(logs.Contains("lost"), string.Join("\n", logs.Messages));
    }

    [Fact]
    public async Task Replies_still_held_when_the_drain_ends_are_lost_counted_and_never_said_drained()
    {
        var logs = new RecordingLoggerFactory();
        using var broker = UnreadBroker();
        await using var worker = await RegisteredWorkerAsync(broker, logs, o => o with { DrainTimeout = TimeSpan.FromSeconds(1) });

        SendRequests(broker, worker.Identity, Requests, BodySize);
        await Poll.UntilAsync(() => logs.Contains("the broker has not read yet"), Wait, "no reply refused");
        await Poll.UntilAsync(() => Volatile.Read(ref worker.Ran) == Requests && worker.Worker.InFlight == 0, Wait, "not every request ran");
        await worker.Worker.StopAsync().WaitAsync(Wait);

        var lost = Lost(logs);
        Assert.InRange(lost, 1, Requests);

        // What the connection still delivers: no more replies than were not lost.
        var replies = 0;
        while (broker.TryReceive(TimeSpan.FromSeconds(3), out var frames))
        {
            replies += Replies(frames).Count;
            Assert.NotEqual("DISCONNECT drained", Disconnect(frames));
        }

        Assert.InRange(replies, 0, Requests - lost);
    }

    [Fact]
    public async Task A_broker_that_sends_and_never_reads_makes_the_worker_hold_no_more_than_its_bound_and_it_connects_again()
    {
        var logs = new RecordingLoggerFactory();
        using var broker = UnreadBroker();
        const long bound = 4 * 1024 * 1024;
        await using var worker = await RegisteredWorkerAsync(broker, logs, o => o with
        {
            Concurrency = Capacity, // the broker may leave that many replies unread, no more
            RunHandlersInline = true,
            // Every "holds N" line logged: the default burst (10 a minute) can be used up before the count peaks, when a
            // loaded machine's turns refuse the same replies again and again.
            Transport = o.Transport with { MaxPendingBytesPerPeer = bound, ViolationLogBurst = 100_000 },
            ReconnectDelay = TimeSpan.FromSeconds(30), // not again within the test: one connection's story
            ReconnectDelayMax = TimeSpan.FromSeconds(30),
        });

        SendRequests(broker, worker.Identity, Requests, BodySize);
        await Poll.UntilAsync(() => logs.Contains("holds more bytes of replies the broker has not read"), Wait, "the worker kept holding:\n" + string.Join("\n", logs.Messages));

        // It never held more than the bound and the capacity, and one reply; what it held went with the connection, and
        // what came after was dropped at once.
        var held = MostHeld(logs);
        Assert.InRange(held, Capacity, Capacity + 1); // past the bytes (4 replies), held until past the capacity
        Assert.True(Lost(logs) >= 1, "nothing it held was let go");
    }

    [Fact]
    public async Task A_broker_that_never_reads_cannot_fill_the_workers_queue_to_its_high_water_mark()
    {
        // The default high-water mark, 10,000 messages: the worker's socket queued every reply up to it, whatever its size
        // (10,000 echoes of 1 MiB, 10 GiB), and never refused one. Now it refuses past the byte budget, the worker holds
        // what it refused, and connects anew once that is past the budget too and more replies than its capacity lets
        // an honest broker leave unread.
        var logs = new RecordingLoggerFactory();
        using var broker = UnreadBroker();
        const long bound = 4 * 1024 * 1024;
        await using var worker = await RegisteredWorkerAsync(broker, logs, o => o with
        {
            Concurrency = Capacity,
            RunHandlersInline = true,
            Transport = o.Transport with { SendHighWatermark = TransportOptions.Default.SendHighWatermark, MaxPendingBytesPerPeer = bound, ViolationLogBurst = 100_000 },
            ReconnectDelay = TimeSpan.FromSeconds(30),
            ReconnectDelayMax = TimeSpan.FromSeconds(30),
        });

        SendRequests(broker, worker.Identity, Requests, BodySize);
        await Poll.UntilAsync(() => logs.Contains("holds more bytes of replies the broker has not read"), Wait, "the worker's socket took every reply:\n" + string.Join("\n", logs.Messages));
        var held = MostHeld(logs);
        Assert.InRange(held, Capacity, Capacity + 1); // past the bytes (4 replies), held until past the capacity
    }

    [Fact]
    public async Task A_broker_that_heartbeats_and_never_reads_has_the_worker_connect_anew_after_the_heartbeat_expiry()
    {
        // Within both bounds (the capacity's replies, more bytes than the budget) the worker holds what is refused and
        // waits for the broker to read. One that keeps heartbeating and never reads had it hold them for good.
        var logs = new RecordingLoggerFactory();
        using var broker = UnreadBroker();
        await using var worker = await RegisteredWorkerAsync(broker, logs, o => o with
        {
            Concurrency = Capacity,
            RunHandlersInline = true,
            HeartbeatInterval = TimeSpan.FromSeconds(1), // expiry: 3 s
            Transport = o.Transport with { MaxPendingBytesPerPeer = 4 * 1024 * 1024 },
            ReconnectDelay = TimeSpan.FromSeconds(30),
            ReconnectDelayMax = TimeSpan.FromSeconds(30),
        });

        SendRequests(broker, worker.Identity, Capacity, BodySize);
        var until = DateTime.UtcNow + Wait;
        while (!logs.Contains("has read nothing of what this worker sent"))
        {
            Assert.True(DateTime.UtcNow < until, "the worker kept holding:\n" + string.Join("\n", logs.Messages));
            broker.Send(worker.Identity, [], Mdp.WorkerHeader, MdpWorker.HeartbeatFrame); // alive, as far as a heartbeat says
            await Task.Delay(200);
        }

        Assert.InRange(MostHeld(logs), 1, Capacity); // within the bounds: not the overflow's cut
        Assert.False(logs.Contains("holds more bytes of replies"), string.Join("\n", logs.Messages));
        Assert.False(logs.Contains("no heartbeat from the broker"), string.Join("\n", logs.Messages));
        Assert.True(Lost(logs) >= 1, "nothing it held was let go");
    }

    /// <summary>
    /// A fake broker that can stop reading: a one-message receive queue and a small kernel buffer. libzmq's, whatever the
    /// worker's transport: a NetMQ ROUTER in its place lost its TCP connection to the worker as it caught up after this
    /// backpressure (once in CI: 516 of 800 replies), so that part of the held replies never arrived.
    /// </summary>
    private static NativeRouter UnreadBroker() => new(receiveHighWatermark: 1, kernelBuffer: 16 * 1024);

    /// <summary>A courier/6 worker of "echo" whose socket queues one message at most, registered with the fake broker.</summary>
    private static async Task<StartedWorker> RegisteredWorkerAsync(
        NativeRouter broker, RecordingLoggerFactory logs, Func<CourierWorkerOptions, CourierWorkerOptions> configure)
    {
        var options = configure(TestBroker.WorkerOptions($"tcp://127.0.0.1:{broker.Port}", "held") with
        {
            Service = "echo",
            HeartbeatInterval = Wait, // the fake broker never heartbeats
            LoggerFactory = logs,
            Transport = new TransportOptions { HeartbeatInterval = TimeSpan.Zero, SendHighWatermark = 1 },
        });
        var started = new StartedWorker(identity: null!);
        var worker = new CourierWorker(options, (request, _) =>
        {
            Interlocked.Increment(ref started.Ran);
            return ValueTask.FromResult(request.Frames);
        });
        started.Worker = worker;
        await worker.StartAsync();

        started.Identity = RawBroker.Register(broker, "courier/6", Wait).Identity;
        return started;
    }

    private static void SendRequests(IRawRouter broker, byte[] identity, int requests, int bodySize)
    {
        for (var i = 0; i < requests; i++)
        {
            var body = new byte[bodySize];
            Encoding.ASCII.GetBytes($"{i:D4}").CopyTo(body, 0);
            RawBroker.SendRequest(broker, identity, (ulong)i + 1, "echo", body);
        }
    }

    /// <summary>The indexes of the replies a message carries: one alone, or a batch's.</summary>
    private static List<int> Replies(List<byte[]> frames)
    {
        if (frames.Count == 3 && frames[1].Length == CourierWorkerFrame.ReplyLength)
        {
            return [Index(frames[2])];
        }

        if (frames.Count == 2 && frames[1].AsSpan().StartsWith(Batch.Header) && frames[1][6] == Batch.WorkerReply)
        {
            var indexes = new List<int>();
            var reader = new BatchReader(frames[1]);
            while (reader.TryRead(out var record))
            {
                indexes.Add(Index(record.Body.ToArray()));
            }

            Assert.False(reader.Malformed);
            return indexes;
        }

        return [];
    }

    private static string? Disconnect(List<byte[]> frames)
        => frames.Count >= 4 && frames[3].AsSpan().SequenceEqual([MdpWorker.Disconnect])
            ? string.Join(" ", frames.Skip(4).Select(f => Encoding.UTF8.GetString(f)).Prepend("DISCONNECT"))
            : null;

    /// <summary>The most replies the worker said it held, in its (rate-limited) lines.</summary>
    private static int MostHeld(RecordingLoggerFactory logs)
        => logs.Messages.Select(m => HeldCount().Match(m)).Where(m => m.Success).Max(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

    private static int Lost(RecordingLoggerFactory logs)
        => logs.Messages.Select(m => LostCount().Match(m)).Where(m => m.Success).Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

    private static int Index(byte[] body) => int.Parse(Encoding.ASCII.GetString(body, 0, 4), System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Worker held lost (\d+) reply")]
    private static partial Regex LostCount();

    [GeneratedRegex(@"Worker held holds (\d+) reply")]
    private static partial Regex HeldCount();

    /// <summary>The worker, its routing id at the fake broker, and how many requests its handler ran.</summary>
    private sealed class StartedWorker(byte[] identity) : IAsyncDisposable
    {
        public int Ran;

        public CourierWorker Worker { get; set; } = null!;

        public byte[] Identity { get; set; } = identity;

        public ValueTask DisposeAsync() => Worker.DisposeAsync();
    }
}
