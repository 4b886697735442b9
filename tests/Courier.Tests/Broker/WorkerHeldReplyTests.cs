using System.Text;
using System.Text.RegularExpressions;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Worker;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>
/// A worker whose broker does not read: its socket refuses replies at its high-water mark. The worker holds them and sends
/// them again, in order, once the broker reads, so that no answered request stays counted as held by it; only replies
/// still held when the connection ends are lost, and then its DISCONNECT does not say "drained" (the broker must not give
/// a request that ran to another worker). Against a fake broker, which can stop reading at will.
/// </summary>
public sealed partial class WorkerHeldReplyTests
{
    private const int Requests = 24;
    private const int BodySize = 1024 * 1024;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Replies_refused_while_the_broker_does_not_read_reach_it_once_it_reads_and_the_worker_then_says_drained()
    {
        var logs = new RecordingLoggerFactory();
        using var broker = UnreadBroker(out var port);
        await using var worker = await RegisteredWorkerAsync(broker, port, logs);
        var identity = worker.Identity;

        SendRequests(broker, identity);
        await Poll.UntilAsync(() => logs.Contains("reply(ies) the broker has not read"), Wait, "no reply refused:\n" + string.Join("\n", logs.Messages));

        // The broker reads again: every reply arrives, once each, though most were refused at first.
        var replied = new List<int>();
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + Wait;
        while (replied.Count < Requests)
        {
            Assert.True(broker.TryReceiveMultipartBytesBefore(until, ref frames!), $"replies to [{string.Join(',', replied)}] only:\n" + string.Join("\n", logs.Messages));
            if (frames.Count == 3 && frames[1].Length == CourierWorkerFrame.ReplyLength)
            {
                replied.Add(Index(frames[2]));
            }
        }

        Assert.Equal(Enumerable.Range(0, Requests), replied.Order());

        await worker.Worker.StopAsync().WaitAsync(Wait);
        Assert.Equal("DISCONNECT drained", ReadUntilDisconnect(broker));
        Assert.False(logs.Contains("lost"), string.Join("\n", logs.Messages));
    }

    [Fact]
    public async Task Replies_still_held_when_the_worker_stops_are_lost_and_its_disconnect_does_not_say_drained()
    {
        var logs = new RecordingLoggerFactory();
        using var broker = UnreadBroker(out var port);
        await using var worker = await RegisteredWorkerAsync(broker, port, logs);

        SendRequests(broker, worker.Identity);
        await Poll.UntilAsync(() => logs.Contains("reply(ies) the broker has not read"), Wait, "no reply refused");
        await Poll.UntilAsync(() => worker.Worker.InFlight == 0, Wait, "handlers still running");
        await worker.Worker.StopAsync().WaitAsync(Wait);

        var lost = logs.Messages.Select(m => LostCount().Match(m)).Where(m => m.Success).Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.InRange(lost, 1, Requests);

        // Whatever the connection still delivers: never a "drained" DISCONNECT, and no more replies than were not lost.
        var replies = 0;
        var frames = new List<byte[]>();
        while (broker.TryReceiveMultipartBytes(TimeSpan.FromSeconds(3), ref frames!))
        {
            replies += frames.Count == 3 && frames[1].Length == CourierWorkerFrame.ReplyLength ? 1 : 0;
            Assert.False(frames.Count == 5 && frames[3].AsSpan().SequenceEqual([MdpWorker.Disconnect]), "a worker that lost replies said it drained");
        }

        Assert.InRange(replies, 0, Requests - lost);
    }

    /// <summary>A fake broker that can stop reading: a one-message receive queue and a small kernel buffer.</summary>
    private static RouterSocket UnreadBroker(out int port)
    {
        var broker = new RouterSocket();
        broker.Options.Linger = TimeSpan.Zero;
        broker.Options.ReceiveHighWatermark = 1;
        broker.Options.ReceiveBuffer = 16 * 1024;
        port = broker.BindRandomPort("tcp://127.0.0.1");
        return broker;
    }

    /// <summary>A courier/6 worker of "echo" whose socket queues one message at most, registered with the fake broker.</summary>
    private static async Task<StartedWorker> RegisteredWorkerAsync(RouterSocket broker, int port, RecordingLoggerFactory logs)
    {
        var options = TestBroker.WorkerOptions($"tcp://127.0.0.1:{port}", "held") with
        {
            Service = "echo",
            HeartbeatInterval = Wait, // the fake broker never heartbeats
            LoggerFactory = logs,
            Transport = new TransportOptions { HeartbeatInterval = TimeSpan.Zero, SendHighWatermark = 1 },
        };
        var worker = new CourierWorker(options, CourierServices.Echo);
        await worker.StartAsync();

        var frames = new List<byte[]>();
        Assert.True(broker.TryReceiveMultipartBytes(Wait, ref frames!), "no probe");
        var identity = frames[0];
        broker.SendMoreFrame(identity).SendMoreFrameEmpty().SendMoreFrame("MDPC01").SendMoreFrame("mmi.courier").SendMoreFrame("200").SendFrame("courier/6");
        Assert.True(broker.TryReceiveMultipartBytes(Wait, ref frames!), "no READY");
        return new StartedWorker(worker, identity);
    }

    private static void SendRequests(RouterSocket broker, byte[] identity)
    {
        var header = new byte[CourierWorkerFrame.MaxRequestLength];
        for (var i = 0; i < Requests; i++)
        {
            var length = CourierWorkerFrame.WriteRequest(header, (ulong)i + 1, "echo"u8);
            var body = new byte[BodySize];
            Encoding.ASCII.GetBytes($"{i:D4}").CopyTo(body, 0);
            broker.SendMoreFrame(identity).SendMoreFrame(header.AsSpan(0, length).ToArray()).SendFrame(body);
        }
    }

    private static string ReadUntilDisconnect(RouterSocket broker)
    {
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + Wait;
        while (true)
        {
            Assert.True(broker.TryReceiveMultipartBytesBefore(until, ref frames!), "no DISCONNECT");
            if (frames.Count >= 4 && frames[3].AsSpan().SequenceEqual([MdpWorker.Disconnect]))
            {
                return string.Join(" ", frames.Skip(4).Select(f => Encoding.UTF8.GetString(f)).Prepend("DISCONNECT"));
            }
        }
    }

    private static int Index(byte[] body) => int.Parse(Encoding.ASCII.GetString(body, 0, 4), System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex(@"lost (\d+) reply")]
    private static partial Regex LostCount();

    private sealed record StartedWorker(CourierWorker Worker, byte[] Identity) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Worker.DisposeAsync();
    }
}
