using Courier.Client;
using Courier.Tests.Infrastructure;
using Courier.Tests.Integration;

namespace Courier.Tests.Broker;

/// <summary>Headers (courier/5) through a broker: to a Courier worker and back unchanged; a stock 7/MDP worker never sees them.</summary>
public sealed class BrokerHeaderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Headers_pass_through_the_broker_to_the_worker_and_back(bool inline)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "w", service: "reflect", concurrency: 50, configure: o => o with { RunHandlersInline = inline }, handler: HeaderTests.Reflect);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20) });
        await TestBroker.WaitForWorkersAsync(client, "reflect", 1);

        var single = await client.RequestAsync("reflect", "x", HeaderTests.Options(("trace", "t-1"), ("tenant", "acme")));
        Assert.Equal("trace=t-1\ntenant=acme", single.BodyText);
        Assert.Equal([("seen", "2"), ("trace", "t-1")], single.Headers.Select(h => (h.Key, h.Value)));

        var many = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => client.RequestAsync("reflect", "x", HeaderTests.Options(("trace", $"t{i}")))));
        for (var i = 0; i < many.Length; i++)
        {
            Assert.Equal($"trace=t{i}", many[i].BodyText);
            Assert.Equal($"t{i}", many[i].Headers["trace"]);
        }

        var none = await client.RequestAsync("reflect", "x");
        Assert.Equal(("", "0"), (none.BodyText, none.Headers["seen"]));
    }

    [SkippableFact]
    public async Task A_stock_7MDP_worker_serves_requests_with_headers_and_never_sees_them()
    {
        StockClientTests.SkipUnlessPyzmq();
        await using var broker = await TestBroker.StartAsync();
        await using var worker = ChildProcess.StartPython("mdp_worker.py", broker.Endpoint!, "py-echo", "pyworker");
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "py-echo", 1);

        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => client.RequestAsync("py-echo", $"{i}", HeaderTests.Options(("trace", $"t{i}")))));

        // The stock worker echoes exactly the body frames it got: headers travelled no further than the broker.
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"pyworker|{i}"), replies.Select(r => string.Join("|", r.Frames.Select(f => System.Text.Encoding.UTF8.GetString(f.Span)))));
        Assert.All(replies, r => Assert.Empty(r.Headers));
    }
}
