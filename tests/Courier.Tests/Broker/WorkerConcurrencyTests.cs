using System.Text;
using Courier.Client;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Worker;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>A worker runs at most its own Concurrency of handlers, whatever its broker sends.</summary>
public sealed class WorkerConcurrencyTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_worker_sent_more_requests_than_its_concurrency_runs_only_that_many_and_answers_the_rest_503()
    {
        using var broker = new RouterSocket();
        broker.Options.ReceiveHighWatermark = 0;
        var port = broker.BindRandomPort("tcp://127.0.0.1");
        var running = 0;
        var most = 0;
        using var release = new SemaphoreSlim(0);
        CourierHandler handler = async (request, cancellationToken) =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            await release.WaitAsync(cancellationToken);
            Interlocked.Decrement(ref running);
            return request.Frames;
        };
        var logs = new RecordingLoggerFactory();
        var options = TestBroker.WorkerOptions($"tcp://127.0.0.1:{port}", "attacked") with
        {
            Service = "echo",
            Concurrency = 10,
            Protocol = ClientProtocol.Mdp,
            LoggerFactory = logs,
        };
        await using var worker = new CourierWorker(options, handler);
        await worker.StartAsync();

        // The worker says READY; the hostile "broker" answers with a thousand requests at once.
        var frames = new List<byte[]>();
        Assert.True(broker.TryReceiveMultipartBytes(Wait, ref frames!), "no READY");
        var identity = frames[0];
        for (var i = 0; i < 1000; i++)
        {
            broker.SendMoreFrame(identity).SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([0x02])
                .SendMoreFrame($"client-{i}").SendMoreFrameEmpty().SendFrame($"body {i}");
        }

        // 990 come back 503 while the first ten still run.
        var refused = 0;
        while (refused < 990)
        {
            Assert.True(broker.TryReceiveMultipartBytes(Wait, ref frames!), $"only {refused} refusals");
            if (frames.Count >= 7 && frames[3].SequenceEqual(new byte[] { 0x03 }) && Encoding.ASCII.GetString(frames[6]) == "503")
            {
                refused++;
            }
        }

        // The ten admitted handlers start on the thread pool: on a loaded machine some may not have begun yet (seen in CI).
        await Poll.UntilAsync(() => Volatile.Read(ref running) == 10, what: "the ten admitted handlers running");
        Assert.True(most <= 10, $"{most} handlers ran at once");

        // Released, the ten answer; a new request then runs again.
        release.Release(10);
        var answered = 0;
        while (answered < 10)
        {
            Assert.True(broker.TryReceiveMultipartBytes(Wait, ref frames!), $"only {answered} answers");
            if (frames.Count >= 7 && frames[3].SequenceEqual(new byte[] { 0x03 }) && Encoding.ASCII.GetString(frames[6]).StartsWith("body ", StringComparison.Ordinal))
            {
                answered++;
            }
        }

        Assert.True(most <= 10, $"{most} handlers ran at once");
        Assert.Contains(logs.Messages, m => m.Contains("than its concurrency of 10", StringComparison.Ordinal));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
