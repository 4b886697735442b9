using Courier.Client;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Tests.Integration;

/// <summary>
/// inproc:// endpoints: in-process, no port, no kernel. This assembly runs them on its transport (native here, managed
/// in Courier.Tests.Managed): both sides of an inproc endpoint must be on the same transport, each has its own.
/// </summary>
public sealed class InprocTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static string Endpoint() => $"inproc://courier-tests-{Guid.NewGuid():N}";

    [Fact]
    public async Task A_server_bound_to_an_inproc_name_answers_a_client_connecting_to_it()
    {
        var endpoint = Endpoint();
        await using var server = await TestServer.StartAsync(
            o => o with { Endpoint = endpoint },
            s => s.Map("greet", (request, _) => ValueTask.FromResult(CourierBody.Text($"hello, {request.BodyText}"))));
        await using ICourierClient client = TestServer.Client(endpoint);

        Assert.Equal(endpoint, server.Endpoint);
        Assert.Equal("hello, world", (await client.RequestAsync("greet", "world").WaitAsync(Bound)).BodyText);
        Assert.Equal(["a", "b"], (await client.RequestAsync("echo", ["a"u8.ToArray(), "b"u8.ToArray()]).WaitAsync(Bound)).Frames.Select(f => System.Text.Encoding.UTF8.GetString(f.Span)));
    }

    [Fact]
    public async Task Many_requests_in_flight_over_inproc_each_get_their_reply()
    {
        var endpoint = Endpoint();
        await using var server = await TestServer.StartAsync(o => o with { Endpoint = endpoint });
        await using var client = TestServer.Client(endpoint);

        var replies = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.RequestAsync("echo", $"m{i}"))).WaitAsync(Bound);

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"m{i}"), replies.Select(r => r.BodyText));
    }

    [Fact]
    public async Task A_client_connecting_before_the_server_binds_is_served_on_native_and_told_why_not_on_managed()
    {
        var endpoint = Endpoint();
        var logs = new RecordingLoggerFactory();
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = Bound, Retries = 0, LoggerFactory = logs });
        Task<CourierReply>? early = null;
        if (TestTransport.IsManaged)
        {
            // NetMQ refuses an inproc connect before the bind: the request fails at once (it may throw as it is made),
            // saying so; the next one connects afresh.
            var error = await Assert.ThrowsAsync<CourierUnreachableException>(() => client.RequestAsync("echo", "early").WaitAsync(Bound));
            Assert.Contains("must be bound before anything connects to it", error.Message, StringComparison.Ordinal);
        }
        else
        {
            early = client.RequestAsync("echo", "early");

            // The client's loop logs this right before it connects; libzmq queues the request until the bind.
            await Poll.UntilAsync(() => logs.Contains($"Connecting to {endpoint}"), Bound, "the client connecting");
        }

        await using var server = await TestServer.StartAsync(o => o with { Endpoint = endpoint });

        if (early is not null)
        {
            Assert.Equal("early", (await early.WaitAsync(Bound)).BodyText);
            return;
        }

        // A refused address is tried again after a second: until then a request is told so at once, after it is served.
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    return (await client.RequestAsync("echo", "late").WaitAsync(Bound)).BodyText == "late";
                }
                catch (CourierUnreachableException)
                {
                    return false;
                }
            },
            Bound,
            "a request served once the server is bound");
    }

    [Fact]
    public async Task A_worker_started_before_its_broker_registers_once_the_broker_binds()
    {
        // Native: the connect waits for the bind (plain 7/MDP registers at once, so the log shows the connect).
        // Managed: the refused connect is retried with the worker's backoff.
        var endpoint = Endpoint();
        var logs = new RecordingLoggerFactory();
        await using var worker = await TestBroker.StartWorkerAsync(
            endpoint, "early-worker", handler: CourierServices.Echo, configure: o => o with { Protocol = ClientProtocol.Mdp, LoggerFactory = logs });
        await Poll.UntilAsync(() => logs.Contains("registering for echo") || logs.Contains("cannot connect"), Bound, "the worker trying to connect");
        await using var broker = await TestBroker.StartAsync(o => o with { Endpoint = endpoint });
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = Bound, Retries = 0 });

        await TestBroker.WaitForWorkersAsync(client, "echo", 1);
        Assert.Equal("late broker", (await client.RequestAsync("echo", "late broker").WaitAsync(Bound)).BodyText);
    }

    [Fact]
    public async Task A_broker_and_its_worker_on_an_inproc_name_serve_a_client()
    {
        var endpoint = Endpoint();
        await using var broker = await TestBroker.StartAsync(o => o with { Endpoint = endpoint });
        await using var worker = await TestBroker.StartWorkerAsync(endpoint, "inproc-worker", handler: CourierServices.Echo);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = Bound, Retries = 0 });

        Assert.Equal("through the broker", (await client.RequestAsync("echo", "through the broker").WaitAsync(Bound)).BodyText);
    }
}
