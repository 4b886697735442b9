using Courier.Protocol.Internal;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>
/// A worker the broker gave up (silent past its liveness) may still answer what it held. A late refusal, 429 or 503,
/// says the request never ran there: its caller gets 503, which it may send anywhere, and the broker remembers no run.
/// </summary>
public sealed class LateRefusalTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_late_429_from_a_worker_given_up_reaches_its_caller_as_a_503_that_never_ran_and_the_retry_runs_elsewhere()
    {
        // The fake worker never heartbeats: given up after 3 × 1 s, then its requests wait one more liveness for its reply.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(1), HeartbeatLiveness = 3 });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = Wait, Retries = 0 });
        using var fake = new DealerSocket();
        fake.Options.Linger = TimeSpan.Zero;
        fake.Connect(broker.Endpoint!);
        fake.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Ready]).SendMoreFrame("late")
            .SendFrame("courier/6 capacity=1 name=given-up");
        await TestBroker.WaitForWorkersAsync(client, "late", 1);

        var pending = client.RequestAsync("late", "once");
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + Wait;
        while (!(frames.Count >= 2 && frames[0].AsSpan().StartsWith("CURW0"u8) && frames[0][6] == MdpWorker.Request))
        {
            Assert.True(fake.TryReceiveMultipartBytesBefore(until, ref frames!), "the fake worker got no request");
        }

        var token = frames[0].AsSpan(7, 8).ToArray();
        await using var staying = await TestBroker.StartWorkerAsync(broker.Endpoint!, "staying", service: "late");
        await Poll.UntilAsync(async () => (await TestBroker.WorkersAsync(client, "late")).All(w => w.Name != "given-up"), Wait, "the silent worker given up");

        // Its late answer: no room. The request never ran there, so its caller may send it again, and a
        // worker that has room runs it. Remembered as run, the retry would get that error back instead.
        fake.SendMoreFrame([.. "CURW02"u8, MdpWorker.Reply, .. token, .. "429"u8]).SendFrame("full");

        Assert.Equal("staying", (await pending.WaitAsync(Wait)).BodyText);
    }
}
