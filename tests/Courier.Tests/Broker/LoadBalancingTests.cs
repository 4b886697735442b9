using System.Buffers.Binary;
using System.Text;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

public sealed class LoadBalancingTests
{
    [Fact]
    public async Task Fast_worker_serves_most_requests_when_the_other_is_slow()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var fast = await TestBroker.StartWorkerAsync(broker.Endpoint!, "fast", TimeSpan.FromMilliseconds(1));
        await using var slow = await TestBroker.StartWorkerAsync(broker.Endpoint!, "slow", TimeSpan.FromMilliseconds(250));
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "echo", 2);

        var counts = await CountRepliesAsync(client, 2000, 40);

        Assert.True(counts["fast"] > 4 * counts.GetValueOrDefault("slow"), $"fast {counts["fast"]}, slow {counts.GetValueOrDefault("slow")}");
    }

    [Fact]
    public async Task Equal_workers_share_requests_evenly()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var a = await TestBroker.StartWorkerAsync(broker.Endpoint!, "a", TimeSpan.FromMilliseconds(2));
        await using var b = await TestBroker.StartWorkerAsync(broker.Endpoint!, "b", TimeSpan.FromMilliseconds(2));
        await using var c = await TestBroker.StartWorkerAsync(broker.Endpoint!, "c", TimeSpan.FromMilliseconds(2));
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "echo", 3);

        var counts = await CountRepliesAsync(client, 3000, 30);

        Assert.All(new[] { "a", "b", "c" }, name => Assert.InRange(counts.GetValueOrDefault(name), 700, 1300));
    }

    [Fact]
    public async Task One_at_a_time_requests_rotate_over_idle_workers()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var a = await TestBroker.StartWorkerAsync(broker.Endpoint!, "a");
        await using var b = await TestBroker.StartWorkerAsync(broker.Endpoint!, "b");
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "echo", 2);

        var names = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            names.Add((await client.RequestAsync("echo", "x")).BodyText);
        }

        // Least recently used among equally idle workers: strict alternation.
        Assert.Equal(5, names.Count(n => n == "a"));
        Assert.All(names.Zip(names.Skip(1)), pair => Assert.NotEqual(pair.First, pair.Second));
    }

    [Theory]
    [InlineData(64, 20, 0)] // the default: one worker takes the whole batch, well within the affinity
    [InlineData(8, 12, 8)] // runs of at most 8 more than the other worker: 8 to one, then the rest to the other
    [InlineData(0, 10, 10)] // none: dealt out one by one, least loaded (then least recently used) each time
    public async Task Requests_that_arrive_in_one_batch_stay_with_one_worker_while_it_is_within_the_dispatch_affinity(int affinity, int most, int least)
    {
        await using var broker = await TestBroker.StartAsync(o => o with { DispatchAffinity = affinity });
        // Room for the whole batch at either, and each reply is the worker's name alone.
        await using var a = await TestBroker.StartWorkerAsync(broker.Endpoint!, "a", concurrency: 50, handler: TestBroker.Named("a"));
        await using var b = await TestBroker.StartWorkerAsync(broker.Endpoint!, "b", concurrency: 50, handler: TestBroker.Named("b"));
        await using (var client = TestServer.Client(broker.Endpoint!))
        {
            await TestBroker.WaitForWorkersAsync(client, "echo", 2);
        }

        // One message of 20 records from one client: the broker handles it in one turn.
        using var dealer = TestDealer.Connect(broker.Endpoint!);
        dealer.SendMoreFrameEmpty().SendFrame(BatchFrames.Build(1, Enumerable.Range(1, 20).Select(i => ((ulong)i, "echo", $"r{i}"))));

        var served = new Dictionary<ulong, string>();
        var frames = new List<byte[]>();
        while (served.Count < 20)
        {
            Assert.True(dealer.TryReceiveMultipartBytes(TimeSpan.FromSeconds(15), ref frames!), $"only {served.Count} of 20 replies");
            if (BatchFrames.Is(frames[1], 2))
            {
                foreach (var reply in BatchFrames.Parse(frames[1]))
                {
                    Assert.Equal("200", reply.Tag);
                    served.Add(reply.Id, reply.Body);
                }
            }
            else
            {
                Assert.Equal("200", Encoding.ASCII.GetString(frames[1], 14, 3));
                served.Add(BinaryPrimitives.ReadUInt64BigEndian(frames[1].AsSpan(6)), Encoding.UTF8.GetString(frames[2]));
            }
        }

        var counts = served.Values.GroupBy(name => name).Select(g => g.Count()).ToList();
        Assert.Equal(most, counts.Max());
        Assert.Equal(least, counts.Count == 2 ? counts.Min() : 0);
    }

    private static async Task<Dictionary<string, int>> CountRepliesAsync(Courier.Client.CourierClient client, int total, int inFlight)
    {
        var counts = new Dictionary<string, int>();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) < total)
            {
                var reply = await client.RequestAsync("echo", "x");
                lock (counts)
                {
                    counts[reply.BodyText] = counts.GetValueOrDefault(reply.BodyText) + 1;
                }
            }
        })));
        Assert.Equal(total, counts.Values.Sum());
        return counts;
    }
}
