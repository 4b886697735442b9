using Courier.Client;
using Courier.Json;
using Courier.Json.Internal;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Worker;

namespace Courier.Tests.Typed;

/// <summary><c>content-type</c> on typed requests and replies (docs/protocol.md §8).</summary>
public sealed class ContentTypeTests
{
    private static readonly Courier.Json.CourierHandler<StockQuery, StockLevel> Stock =
        (query, _) => ValueTask.FromResult(new StockLevel(query.Sku, query.Sku.Length));

    [Fact]
    public async Task Typed_request_says_it_is_json_and_a_typed_handler_says_so_of_its_reply()
    {
        string? seen = null;
        await using var server = await TestServer.StartAsync(map: s => s
            .Map("stock", Stock, TypedJson.Default)
            .Map("inspect", (request, _) =>
            {
                seen = request.Headers["content-type"];
                return ValueTask.FromResult(CourierBody.Text("""{"sku":"seen","available":1}"""));
            }));
        await using var client = TestServer.Client(server.Endpoint!);

        await client.RequestAsync<StockQuery, StockLevel>("inspect", new StockQuery("a"), TypedJson.Default);
        var reply = await client.RequestAsync("stock", """{"sku":"pear"}""");

        Assert.Equal("application/json", seen);
        Assert.Equal("application/json", reply.Headers["content-type"]);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("application/jsonx")]
    [InlineData("")]
    public async Task Typed_handler_answers_400_to_a_request_that_says_it_is_not_json_and_does_not_run(string contentType)
    {
        var ran = 0;
        await using var server = await TestServer.StartAsync(map: s => s.Map("stock", (StockQuery q, CancellationToken ct) =>
        {
            Interlocked.Increment(ref ran);
            return Stock(q, ct);
        }, TypedJson.Default));
        await using var client = TestServer.Client(server.Endpoint!);
        var options = CourierRequestOptions.Default with { Headers = new CourierHeaders().Add("content-type", contentType) };

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("stock", """{"sku":"pear"}""", options));

        Assert.Equal(CourierStatus.BadRequest, error.StatusCode);
        Assert.Contains($"content-type is '{contentType}'; this service takes application/json", error.RemoteMessage, StringComparison.Ordinal);
        Assert.Equal(0, ran);
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("Application/JSON")]
    [InlineData("application/problem+json")]
    public async Task Typed_handler_serves_json_content_types_with_parameters_or_a_json_suffix(string contentType)
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("stock", Stock, TypedJson.Default));
        await using var client = TestServer.Client(server.Endpoint!);
        var options = CourierRequestOptions.Default with { Headers = new CourierHeaders().Add("content-type", contentType) };

        var reply = await client.RequestAsync("stock", """{"sku":"fig"}""", options);

        Assert.Equal("""{"sku":"fig","available":3}""", reply.BodyText);
    }

    [Fact]
    public async Task Typed_worker_refuses_a_non_json_content_type_through_a_broker_and_serves_one_without()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(broker.Endpoint!, "typed-ct"))
            .Map("stock", Stock, TypedJson.Default, concurrency: 4);
        await worker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(10) });
        var csv = CourierRequestOptions.Default with { Headers = new CourierHeaders().Add("content-type", "text/csv") };

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("stock", "sku\nplum", csv));
        var plain = await client.RequestAsync("stock", """{"sku":"plum"}"""); // a stock peer sends no content type

        Assert.Equal(CourierStatus.BadRequest, error.StatusCode);
        Assert.Contains("this service takes application/json", error.RemoteMessage, StringComparison.Ordinal);
        Assert.Equal("""{"sku":"plum","available":4}""", plain.BodyText);
        Assert.Equal("application/json", plain.Headers["content-type"]);
    }

    [Theory]
    [InlineData("application/json", true)]
    [InlineData(" application/json ;charset=utf-8", true)]
    [InlineData("application/vnd.api+json", true)]
    [InlineData("text/json", false)]
    [InlineData("json", false)]
    [InlineData("+json", false)]
    public void Json_content_types_are_recognised(string contentType, bool json)
        => Assert.Equal(json, JsonBody.IsJson(contentType));
}
