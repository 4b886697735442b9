using System.Text;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Worker;

namespace Courier.Tests.Broker;

/// <summary>
/// A worker against a broker played frame by frame that means it harm: what the worker logs, runs and keeps stays within
/// what the broker sent, and a request never runs once the worker cannot answer it.
/// </summary>
public sealed class HostileBrokerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_broker_that_answers_each_registration_with_DISCONNECT_meets_a_growing_backoff_not_a_reconnect_every_tick()
    {
        var logs = new RecordingLoggerFactory();
        using var broker = new NativeRouter();
        await using var worker = await StartWorkerAsync(
            broker, logs, "echo", (request, _) => ValueTask.FromResult(request.Frames),
            o => o with { ReconnectDelay = TimeSpan.FromMilliseconds(250), ReconnectDelayMax = TimeSpan.FromSeconds(5) }); // the defaults

        // Six seconds of answering every probe and every READY with DISCONNECT. From 250 ms doubling to 5 s, the worker
        // connects at about 0, 0.25, 0.75, 1.75, 3.75 s: five times. Without a backoff, every 250 to 500 ms.
        var probes = 0;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(6);
        while (DateTime.UtcNow < until)
        {
            if (!broker.TryReceive(until - DateTime.UtcNow, out var frames))
            {
                break;
            }

            if (IsProbe(frames))
            {
                probes++;
                broker.Send(frames[0], [], "MDPC01"u8.ToArray(), "mmi.courier"u8.ToArray(), "200"u8.ToArray(), "courier/6"u8.ToArray());
            }
            else if (frames.Count >= 4 && frames[3].AsSpan().SequenceEqual([MdpWorker.Ready]))
            {
                broker.Send(frames[0], [], "MDPW01"u8.ToArray(), [MdpWorker.Disconnect]);
            }
        }

        Assert.True(probes is >= 2 and <= 8, $"{probes} probes:\n" + string.Join("\n", logs.Messages));
        Assert.InRange(logs.Messages.Count(m => m.Contains("the broker said DISCONNECT", StringComparison.Ordinal)), 1, 8);
    }

    [Fact]
    public async Task A_7MDP_broker_flooding_a_stopping_worker_never_has_a_request_that_crossed_its_DISCONNECT_run()
    {
        using var broker = new NativeRouter();
        var ran = new System.Collections.Concurrent.ConcurrentBag<int>();
        await using var worker = await StartWorkerAsync(
            broker, new RecordingLoggerFactory(), "plain",
            async (request, token) =>
            {
                ran.Add(BitConverter.ToInt32(request.Frames[0].Span));
                try
                {
                    await Task.Delay(Timeout.Infinite, token);
                }
                catch (OperationCanceledException)
                {
                }

                return request.Frames;
            },
            o => o with { Concurrency = 1000, Prefetch = 0, DrainTimeout = TimeSpan.FromMilliseconds(300) });

        // A 7/MDP broker knows no mmi.courier: 501, and the worker registers in plain 7/MDP.
        Assert.True(broker.TryReceive(Wait, out var probe), "no probe");
        var identity = probe[0];
        broker.Send(identity, [], "MDPC01"u8.ToArray(), "mmi.courier"u8.ToArray(), "501"u8.ToArray());
        Assert.True(broker.TryReceive(Wait, out var ready), "no READY");
        Assert.Equal([MdpWorker.Ready], ready[3]);
        SendRequest(broker, identity, 0);
        await Poll.UntilAsync(() => !ran.IsEmpty, Wait, "the first request ran");

        // A request every millisecond or so through the drain, the handlers' cancellation, the DISCONNECT and the close.
        var stopping = worker.StopAsync();
        var sent = 1;
        int? afterDisconnect = null;
        var until = DateTime.UtcNow + Wait;
        while (!stopping.IsCompleted && DateTime.UtcNow < until && TrySendRequest(broker, identity, sent++))
        {
            if (afterDisconnect is null && broker.TryReceive(TimeSpan.FromMilliseconds(1), out var frames)
                && frames.Count >= 4 && frames[3].AsSpan().SequenceEqual([MdpWorker.Disconnect]))
            {
                afterDisconnect = sent; // every request from here on was sent after the DISCONNECT was read
            }
        }

        await stopping.WaitAsync(Wait);
        // The worker may have closed before the DISCONNECT was read above (the send failed first): then nothing was sent
        // after it, and there is nothing to check but that it came.
        while (afterDisconnect is null && broker.TryReceive(TimeSpan.FromSeconds(1), out var rest))
        {
            afterDisconnect = rest.Count >= 4 && rest[3].AsSpan().SequenceEqual([MdpWorker.Disconnect]) ? sent : null;
        }

        Assert.True(afterDisconnect is not null, "no DISCONNECT");
        Assert.True(ran.Count > 1, "no request of the flood ran during the drain");
        Assert.DoesNotContain(ran, i => i >= afterDisconnect);
    }

    [Fact]
    public async Task A_service_name_a_broker_chose_reaches_the_log_and_the_404_as_one_printable_line()
    {
        var logs = new RecordingLoggerFactory();
        using var broker = new NativeRouter();
        await using var worker = await StartWorkerAsync(broker, logs, "echo", (request, _) => ValueTask.FromResult(request.Frames));
        var identity = RawBroker.Register(broker, "courier/6", Wait).Identity;

        RawBroker.SendRequest(broker, identity, 1, "x\nWorker echo: FAKE LINE \u202e", [1]);

        Assert.True(broker.TryReceive(Wait, out var reply), "no 404");
        var body = Encoding.UTF8.GetString(reply[^1]);
        Assert.Contains("0x", body, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", body, StringComparison.Ordinal);
        await Poll.UntilAsync(() => logs.Contains("which this connection does not serve"), Wait, "not logged");
        Assert.All(logs.Messages, m => Assert.False(m.Contains('\n', StringComparison.Ordinal) || m.Contains('\u202e', StringComparison.Ordinal), m));
    }

    [Fact]
    public async Task A_batch_larger_than_a_batch_may_be_is_dropped_whole_not_kept_behind_its_small_requests()
    {
        var logs = new RecordingLoggerFactory();
        using var broker = new NativeRouter();
        var ran = 0;
        await using var worker = await StartWorkerAsync(broker, logs, "echo", (request, _) =>
        {
            Interlocked.Increment(ref ran);
            return ValueTask.FromResult(request.Frames);
        });
        var identity = RawBroker.Register(broker, "courier/6", Wait).Identity;

        // One small echo request and a megabyte of padding for a service nobody serves: every body a slice of one copy.
        var records = new List<(ulong, string, string)> { (1, "echo", "x") };
        records.AddRange(Enumerable.Range(2, 128).Select(i => ((ulong)i, "none", new string('p', 8 * 1024))));
        broker.Send(identity, BatchFrames.Build(Batch.WorkerRequest, records));
        // Then a batch within the bound, which runs.
        broker.Send(identity, BatchFrames.Build(Batch.WorkerRequest, [(200, "echo", "y"), (201, "echo", "z")]));

        await Poll.UntilAsync(() => Volatile.Read(ref ran) == 2, Wait, "the small batch ran");
        Assert.True(logs.Contains($"over the {Batch.LargeMaxFrameLength} a batch may be"), string.Join("\n", logs.Messages));
        Assert.Equal(2, Volatile.Read(ref ran));
    }

    private static bool IsProbe(List<byte[]> frames)
        => frames.Count >= 4 && Encoding.ASCII.GetString(frames[2]) == "MDPC01" && Encoding.ASCII.GetString(frames[3]) == "mmi.courier";

    private static void SendRequest(NativeRouter broker, byte[] identity, int i) => Assert.True(TrySendRequest(broker, identity, i));

    private static bool TrySendRequest(NativeRouter broker, byte[] identity, int i)
        => broker.TrySend(identity, [], "MDPW01"u8.ToArray(), [MdpWorker.Request], Encoding.ASCII.GetBytes($"client{i}"), [], BitConverter.GetBytes(i));

    private static async Task<CourierWorker> StartWorkerAsync(
        NativeRouter broker, RecordingLoggerFactory logs, string name, CourierHandler handler, Func<CourierWorkerOptions, CourierWorkerOptions>? configure = null)
    {
        var options = TestBroker.WorkerOptions($"tcp://127.0.0.1:{broker.Port}", name) with
        {
            Service = "echo",
            HeartbeatInterval = Wait, // the fake broker never heartbeats
            LoggerFactory = logs,
            Transport = new TransportOptions { HeartbeatInterval = TimeSpan.Zero },
        };
        var worker = new CourierWorker(configure?.Invoke(options) ?? options, handler);
        await worker.StartAsync();
        return worker;
    }
}
