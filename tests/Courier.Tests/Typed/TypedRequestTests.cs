using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using Courier.Client;
using Courier.Json;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Worker;

namespace Courier.Tests.Typed;

public sealed class TypedRequestTests
{
    private static readonly Courier.Json.CourierHandler<StockQuery, StockLevel> Stock =
        (query, _) => ValueTask.FromResult(new StockLevel(query.Sku, query.Sku.Length));

    [Fact]
    public async Task Typed_request_gets_a_typed_reply_from_a_server_with_source_generated_metadata()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("stock", Stock, TypedJson.Default.StockQuery, TypedJson.Default.StockLevel));
        await using var client = TestServer.Client(server.Endpoint!);

        var level = await client.RequestAsync("stock", new StockQuery("apple"), TypedJson.Default.StockQuery, TypedJson.Default.StockLevel);
        var viaContext = await client.RequestAsync<StockQuery, StockLevel>("stock", new StockQuery("kiwi"), TypedJson.Default);

        Assert.Equal(new StockLevel("apple", 5), level);
        Assert.Equal(new StockLevel("kiwi", 4), viaContext);
    }

    [Fact]
    public async Task Typed_request_travels_as_camel_case_json_that_untyped_peers_can_read_and_write()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("stock", Stock, TypedJson.Default));
        await using var client = TestServer.Client(server.Endpoint!);

        var raw = await client.RequestAsync("stock", """{"sku":"pear"}""");

        Assert.Equal("""{"sku":"pear","available":4}""", raw.BodyText);
        // echo sends the request's JSON back as it came.
        Assert.Equal(new StockQuery("x"), await client.RequestAsync("echo", new StockQuery("x"), TypedJson.Default.StockQuery, TypedJson.Default.StockQuery));
    }

    [Fact]
    public async Task Typed_worker_answers_through_a_broker()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(broker.Endpoint!, "typed-1"))
            .Map("stock", Stock, TypedJson.Default, concurrency: 4);
        await worker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(10) });

        var level = await client.RequestAsync<StockQuery, StockLevel>("stock", new StockQuery("plum"), TypedJson.Default);

        Assert.Equal(new StockLevel("plum", 4), level);
    }

    [Fact]
    public async Task Typed_worker_map_declares_idempotence_and_prefetch_to_the_broker()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(broker.Endpoint!, "typed-idempotent"))
            .Map("stock", Stock, TypedJson.Default, concurrency: 2, idempotent: true, prefetch: 1)
            .Map("level", Stock, TypedJson.Default.StockQuery, TypedJson.Default.StockLevel, concurrency: 3, idempotent: true, prefetch: 2);
        await worker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "stock", 1);
        await TestBroker.WaitForWorkersAsync(client, "level", 1);

        using var workers = JsonDocument.Parse((await client.RequestAsync("mmi.workers", "")).Body);
        var stock = workers.RootElement.GetProperty("stock")[0];
        var level = workers.RootElement.GetProperty("level")[0];

        // Capacity is concurrency plus prefetch.
        Assert.Equal((3, true), (stock.GetProperty("capacity").GetInt32(), stock.GetProperty("idempotent").GetBoolean()));
        Assert.Equal((5, true), (level.GetProperty("capacity").GetInt32(), level.GetProperty("idempotent").GetBoolean()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Typed_server_map_declared_idempotent_answers_503_when_a_stop_cuts_its_handler_short(bool viaContext)
    {
        Courier.Json.CourierHandler<StockQuery, StockLevel> forever = async (query, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return new StockLevel(query.Sku, 0);
        };
        var server = await TestServer.StartAsync(o => o with { DrainTimeout = TimeSpan.FromMilliseconds(200) }, s => _ = viaContext
            ? s.Map("stock", forever, TypedJson.Default, idempotent: true)
            : s.Map("stock", forever, TypedJson.Default.StockQuery, TypedJson.Default.StockLevel, idempotent: true));
        // Read on the wire: a client takes a 503 for a refusal and tries again elsewhere (a fresh connection here, which
        // the stopping server may or may not still take), so what it finally reports does not say what the server answered.
        using var socket = TestDealer.Connect(server.Endpoint!);
        RawCourier5.Send(socket, 1, """{"sku":"fig"}""", service: "stock");
        await Poll.UntilAsync(() => server.InFlight == 1);

        await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // At most once (the default) this would be 520: the handler had started.
        Assert.Equal("503", RawCourier5.Receive(socket).Status);
        await server.DisposeAsync();
    }

    [Theory]
    [InlineData("not json", "not valid JSON for StockQuery")]
    [InlineData("", "not valid JSON for StockQuery")]
    [InlineData("""{"sku":""", "not valid JSON for StockQuery")]
    public async Task Request_that_is_not_json_for_the_handler_is_answered_400_and_the_handler_does_not_run(string body, string expected)
    {
        var ran = 0;
        await using var server = await TestServer.StartAsync(map: s => s.Map("stock", (StockQuery q, CancellationToken ct) =>
        {
            Interlocked.Increment(ref ran);
            return Stock(q, ct);
        }, TypedJson.Default));
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("stock", body));

        Assert.Equal(CourierStatus.BadRequest, error.StatusCode);
        Assert.Contains(expected, error.RemoteMessage, StringComparison.Ordinal);
        Assert.Equal(0, ran);
        // The server goes on serving good requests.
        Assert.Equal(new StockLevel("fig", 3), await client.RequestAsync<StockQuery, StockLevel>("stock", new StockQuery("fig"), TypedJson.Default));
    }

    [Fact]
    public async Task Request_of_several_frames_to_a_typed_handler_is_answered_400()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("stock", Stock, TypedJson.Default));
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(
            () => client.RequestAsync("stock", [Encoding.UTF8.GetBytes("""{"sku":"a"}"""), Encoding.UTF8.GetBytes("{}")]));

        Assert.Equal(CourierStatus.BadRequest, error.StatusCode);
        Assert.Contains("2 frames", error.RemoteMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reply_that_is_not_json_for_the_caller_throws_a_serialization_exception_naming_service_and_type()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("text", (_, _) => ValueTask.FromResult(CourierBody.Text("plain words"))));
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierSerializationException>(
            () => client.RequestAsync<StockQuery, StockLevel>("text", new StockQuery("a"), TypedJson.Default));

        Assert.Equal("text", error.Service);
        Assert.Equal(typeof(StockLevel), error.ReplyType);
        Assert.StartsWith("Service 'text' replied with a body that is not valid JSON for StockLevel: ", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<CourierException>(error);
    }

    [Fact]
    public async Task Handler_exception_in_a_typed_handler_is_still_a_500()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map<StockQuery, StockLevel>("stock",
            (_, _) => throw new InvalidOperationException("out of apples"), TypedJson.Default));
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(
            () => client.RequestAsync<StockQuery, StockLevel>("stock", new StockQuery("a"), TypedJson.Default));

        Assert.Equal(CourierStatus.ServerError, error.StatusCode);
        Assert.DoesNotContain("out of apples", error.RemoteMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Context_without_metadata_for_a_type_is_refused_with_the_attribute_to_add()
    {
        var error = Assert.Throws<ArgumentException>(() => CourierJson.Handler<PriceQuery, StockLevel>((_, _) => default, TypedJson.Default));

        Assert.Contains("[JsonSerializable(typeof(PriceQuery))]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [RequiresUnreferencedCode("reflection-based JSON")]
    [RequiresDynamicCode("reflection-based JSON")]
    public async Task Reflection_overloads_serve_and_call_without_a_context()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("price", CourierJson.Handler<PriceQuery, StockLevel>((q, _) => ValueTask.FromResult(new StockLevel(q.Sku, 7)))));
        await using var client = TestServer.Client(server.Endpoint!);

        var level = await client.RequestAsync<PriceQuery, StockLevel>("price", new PriceQuery("lime"));

        Assert.Equal(new StockLevel("lime", 7), level);
    }

    [Fact]
    public async Task Typed_handler_is_a_plain_handler_that_a_unit_test_calls_without_sockets()
    {
        var handler = CourierJson.Handler(Stock, TypedJson.Default.StockQuery, TypedJson.Default.StockLevel);

        var reply = await handler(new CourierRequest("stock", CourierBody.Text("""{"sku":"melon"}""")), CancellationToken.None);

        Assert.Equal("""{"sku":"melon","available":5}""", Encoding.UTF8.GetString(reply[0].Span));
    }
}
