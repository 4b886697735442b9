using System.Text;
using Courier.Protocol.Internal;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Worker;

namespace Courier.Tests.Broker;

/// <summary>
/// A stopping worker closes only once its broker has read what it sent, as far as it can know. A 7/MDP broker cannot be
/// asked (anything after DISCONNECT would be a protocol violation): the worker sends it nothing more and waits until the
/// transport has written its large replies. (Against a Courier broker it asks with a probe: DrainedDisconnectTests.)
/// </summary>
public sealed class WorkerStopReadTests
{
    // 16 MiB through a 64 KiB window: fast alone, but a full run on two cores has been seen to take more than 30 s.
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [SkippableFact]
    public async Task A_worker_stopping_under_a_7MDP_broker_that_reads_slowly_waits_for_its_replies_to_be_written_and_sends_nothing_after_DISCONNECT()
    {
        const int Requests = 4;
        const int BodySize = 4 * 1024 * 1024;

        // Stops reading at will: a one-message receive queue and small kernel buffers, so the replies wait at the worker.
        using var broker = new NativeRouter(receiveHighWatermark: 1, kernelBuffer: 64 * 1024);
        var ran = 0;
        var options = TestBroker.WorkerOptions($"tcp://127.0.0.1:{broker.Port}", "plain") with
        {
            Service = "echo",
            Concurrency = Requests,
            HeartbeatInterval = Wait, // the fake broker never heartbeats
            DrainTimeout = Wait,
            Transport = new TransportOptions { HeartbeatInterval = TimeSpan.Zero },
        };
        await using var worker = new CourierWorker(options, (request, _) =>
        {
            Interlocked.Increment(ref ran);
            return ValueTask.FromResult(request.Frames);
        });
        await worker.StartAsync();

        // A 7/MDP broker knows no mmi.courier: 501, and the worker registers in plain 7/MDP.
        Assert.True(broker.TryReceive(Wait, out var probe), "no probe");
        var identity = probe[0];
        broker.Send(identity, [], "MDPC01"u8.ToArray(), "mmi.courier"u8.ToArray(), "501"u8.ToArray());
        Assert.True(broker.TryReceive(Wait, out var ready), "no READY");
        Assert.Equal([MdpWorker.Ready], ready[3]);

        for (var i = 0; i < Requests; i++)
        {
            broker.Send(identity, [], "MDPW01"u8.ToArray(), [MdpWorker.Request], Encoding.ASCII.GetBytes($"client{i}"), [], new byte[BodySize]);
        }

        await Poll.UntilAsync(() => Volatile.Read(ref ran) == Requests && worker.InFlight == 0, Wait, "every request answered");

        // The broker reads nothing yet: most of the 16 MiB of replies is still the worker's to write.
        var stopping = worker.StopAsync();
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.False(stopping.IsCompleted, "the stop closed the connection with its replies unwritten");

        var replies = 0;
        var disconnected = false;
        var until = DateTime.UtcNow + Wait;
        while (!disconnected)
        {
            if (!broker.TryReceive(until - DateTime.UtcNow, out var frames))
            {
                await SkipIfTheManagedTransportStoppedWritingAsync(broker.Port, stopping, $"{replies} replies and no DISCONNECT");
                Assert.Fail($"{replies} replies and no DISCONNECT; the kernel's queues: {string.Join("; ", Ports.QueuesOf(broker.Port))}");
            }

            if (frames.Count == 7 && frames[3].AsSpan().SequenceEqual([MdpWorker.Reply]))
            {
                Assert.Equal(BodySize, frames[6].Length);
                replies++;
            }

            disconnected = frames.Count >= 4 && frames[3].AsSpan().SequenceEqual([MdpWorker.Disconnect]);
        }

        Assert.Equal(Requests, replies);
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(broker.TryReceive(TimeSpan.FromSeconds(1), out var after), $"sent after DISCONNECT: {after.Count} frames");
    }

    /// <summary>
    /// NetMQ 4.0.4.5 (the managed transport), only under a full run's load: a large reply it has taken is never written,
    /// while the broker reads all that comes. Both kernel queues of the connection stay empty, and the stop still waits:
    /// nothing is on its way, and the bytes are in NetMQ. What this test is for cannot then be reached (guide.md, limits).
    /// </summary>
    private static async Task SkipIfTheManagedTransportStoppedWritingAsync(int brokerPort, Task stopping, string what)
    {
        var queues = Ports.QueuesOf(brokerPort);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var later = Ports.QueuesOf(brokerPort);
        var stalled = TestTransport.IsManaged && !stopping.IsCompleted
            && queues.Count == 2 && queues.All(q => q is { Send: 0, Receive: 0 }) && later.SequenceEqual(queues);
        Skip.If(stalled, $"the managed transport stopped writing to the broker (NetMQ): {what}; the kernel's queues: {string.Join("; ", queues)}, and the same a second later");
    }
}
