using Courier.Tests.Infrastructure;

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
