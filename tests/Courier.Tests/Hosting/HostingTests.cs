using System.Text.Json;
using Courier.Broker;
using Courier.Client;
using Courier.Extensions.Hosting;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Tests.Typed;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Courier.Tests.Hosting;

public sealed class HostingTests
{
    [Fact]
    public async Task Server_and_client_from_configuration_answer_a_typed_request_with_a_handler_resolved_per_request_in_its_own_scope()
    {
        // Both read one endpoint from configuration, as in a deployment: a reserved port nothing else can take meanwhile.
        using var port = PortReservation.Any();
        var builder = Builder(new()
        {
            ["Courier:Server:Endpoint"] = port.Endpoint,
            ["Courier:Server:Name"] = "stock-1",
            ["Courier:Client:Endpoints:0"] = port.Endpoint,
            ["Courier:Client:Timeout"] = "00:00:05",
            ["Courier:Client:Retries"] = "1",
        });
        builder.Services.AddSingleton<ScopeLedger>();
        builder.Services.AddScoped<Shelf>();
        builder.Services.AddCourierServer().MapHandler<StockHandler, StockQuery, StockLevel>("stock", TypedJson.Default);
        builder.Services.AddCourierClient();
        using var host = builder.Build();
        await host.StartAsync();

        var client = host.Services.GetRequiredService<ICourierClient>();
        var first = await client.RequestAsync<StockQuery, StockLevel>("stock", new StockQuery("apple"), TypedJson.Default);
        var second = await client.RequestAsync<StockQuery, StockLevel>("stock", new StockQuery("kiwi"), TypedJson.Default);
        var whoami = await client.RequestAsync("whoami", "");
        await host.StopAsync();

        Assert.Equal(new StockLevel("apple", 5), first);
        Assert.Equal(new StockLevel("kiwi", 4), second);
        Assert.Equal("stock-1", whoami.BodyText);
        var ledger = host.Services.GetRequiredService<ScopeLedger>();
        Assert.Equal(2, ledger.Created);
        Assert.Equal(2, ledger.Disposed);
        Assert.Equal(TimeSpan.FromSeconds(5), host.Services.GetRequiredService<IOptionsMonitor<Courier.Extensions.Hosting.Internal.OptionsBox<CourierClientOptions>>>().CurrentValue.Value.Timeout);
    }

    [Theory]
    // The messages docs/guide.md and README.md quote, exactly: ArgumentException appends the parameter.
    [InlineData("Courier:Client:Timeout", "-00:00:01", "CourierClientOptions.Timeout must be positive. (Parameter 'Timeout')")]
    [InlineData("Courier:Client:Endpoints:0", "localhost:5700", "CourierClientOptions.Endpoints[0]: 'localhost:5700' has no scheme; write tcp://localhost:5700 (Parameter 'Endpoints')")]
    public async Task Invalid_configuration_fails_the_host_start_with_the_options_own_message(string key, string value, string message)
    {
        var builder = Builder(new() { [key] = value });
        builder.Services.AddCourierClient();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("Courier:Server:Securty:CertificateFile", "'Courier:Server:Securty'")]
    [InlineData("Courier:Server:Security:CertFile", "'Courier:Server:Security:CertFile'")]
    [InlineData("Courier:Server:Security:AllowDir", "'Courier:Server:Security:AllowDir'")]
    public async Task A_misspelt_security_key_fails_the_host_start_naming_the_key(string key, string named)
    {
        var builder = Builder(new() { ["Courier:Server:Endpoint"] = "tcp://127.0.0.1:*", [key] = "/etc/courier/server.key_secret" });
        builder.Services.AddCourierServer();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains($"{named} in the configuration is not a setting", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    // One value where a section belongs was skipped by the binder without a word: security off. (One where a list
    // belongs, Endpoints=tcp://…, the binder refuses itself.)
    [InlineData("server", "Courier:Server:Security", "/etc/courier/server.key_secret")]
    [InlineData("server", "Courier:Server:Transport", "native")]
    [InlineData("client", "Courier:Client:Security", "true")]
    public async Task One_value_given_for_a_section_of_settings_fails_the_host_start_naming_the_key(string role, string key, string value)
    {
        var builder = Builder(new() { [key] = value });
        if (role == "server")
        {
            builder.Services.AddCourierServer();
        }
        else
        {
            builder.Services.AddCourierClient();
        }

        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains($"'{key}' in the configuration is a section of settings (or a list), not one value", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Security_keys_spelt_right_still_bind()
    {
        var builder = Builder(new()
        {
            ["Courier:Server:Endpoint"] = "tcp://127.0.0.1:*",
            ["Courier:Server:Security:CertificateFile"] = "/etc/courier/server.key_secret",
            ["Courier:Server:Security:AllowDirectory"] = "/etc/courier/allow",
        });
        builder.Services.AddCourierServer();
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptionsMonitor<Courier.Extensions.Hosting.Internal.OptionsBox<CourierServerOptions>>>().CurrentValue.Value;

        Assert.Equal(("/etc/courier/server.key_secret", "/etc/courier/allow"), (options.Security.CertificateFile, options.Security.AllowDirectory));
    }

    [Fact]
    public async Task Configure_delegate_runs_after_configuration_and_is_validated_too()
    {
        var builder = Builder(new() { ["Courier:Server:Endpoint"] = "tcp://127.0.0.1:*" });
        builder.Services.AddCourierServer(options => options with { MaxConcurrency = 0 });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("CourierServerOptions.MaxConcurrency", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Named_clients_read_their_own_sections_and_resolve_by_key()
    {
        await using var server = await TestServer.StartAsync(o => o with { Name = "named" });
        var builder = Builder(new()
        {
            ["Courier:Clients:fast:Endpoints:0"] = server.Endpoint!,
            ["Courier:Clients:fast:Timeout"] = "00:00:01",
            ["Courier:Clients:slow:Endpoints:0"] = server.Endpoint!,
            ["Courier:Clients:slow:Timeout"] = "00:00:09",
        });
        builder.Services.AddCourierClient("fast");
        builder.Services.AddCourierClient("slow");
        using var host = builder.Build();
        await host.StartAsync();

        var fast = host.Services.GetRequiredKeyedService<ICourierClient>("fast");
        var slow = host.Services.GetRequiredKeyedService<ICourierClient>("slow");

        Assert.NotSame(fast, slow);
        Assert.Equal("named", (await fast.RequestAsync("whoami", "")).BodyText);
        Assert.Equal("named", (await slow.RequestAsync("whoami", "")).BodyText);
        Assert.Null(host.Services.GetService<ICourierClient>());
        await host.StopAsync();
    }

    [Fact]
    public async Task Worker_and_broker_in_hosts_serve_a_client_and_report_health_until_the_worker_stops()
    {
        var brokerBuilder = Builder(new() { ["Courier:Broker:Endpoint"] = "tcp://127.0.0.1:*" });
        brokerBuilder.Services.AddCourierBroker(o => o with { HeartbeatInterval = TestBroker.Heartbeat, HeartbeatLiveness = TestBroker.Liveness });
        brokerBuilder.Services.AddHealthChecks().AddCourierBrokerCheck();
        using var brokerHost = brokerBuilder.Build();
        await brokerHost.StartAsync();
        var endpoint = brokerHost.Services.GetRequiredService<CourierBroker>().Endpoint!;

        var workerBuilder = Builder(new() { ["Courier:Worker:BrokerEndpoint"] = endpoint, ["Courier:Worker:Name"] = "hosted-worker" });
        workerBuilder.Services.AddScoped<Shelf>();
        workerBuilder.Services.AddSingleton<ScopeLedger>();
        workerBuilder.Services.AddCourierWorker(o => o with { HeartbeatInterval = TestBroker.Heartbeat, HeartbeatLiveness = TestBroker.Liveness })
            .MapHandler<StockHandler, StockQuery, StockLevel>("stock", TypedJson.Default.StockQuery, TypedJson.Default.StockLevel, concurrency: 8);
        workerBuilder.Services.AddCourierClient(o => o with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(10) });
        workerBuilder.Services.AddHealthChecks().AddCourierWorkerCheck().AddCourierClientCheck("stock");
        using var workerHost = workerBuilder.Build();
        var health = workerHost.Services.GetRequiredService<HealthCheckService>();

        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Status);
        await workerHost.StartAsync();
        await Poll.UntilAsync(async () => (await health.CheckHealthAsync()).Status == HealthStatus.Healthy, TimeSpan.FromSeconds(30), "worker and client checks healthy");
        var level = await workerHost.Services.GetRequiredService<ICourierClient>().RequestAsync<StockQuery, StockLevel>("stock", new StockQuery("plum"), TypedJson.Default);
        Assert.Equal(HealthStatus.Healthy, (await brokerHost.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status);

        await workerHost.StopAsync();
        var report = await health.CheckHealthAsync();

        Assert.Equal(new StockLevel("plum", 4), level);
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["courier-worker"].Status);
        Assert.Contains("has stopped", report.Entries["courier-worker"].Description, StringComparison.Ordinal);
        await brokerHost.StopAsync();
    }

    [Fact]
    public async Task Hosted_broker_takes_its_options_from_a_configure_delegate_with_services_at_hand()
    {
        using var port = PortReservation.Any();
        var builder = Builder([]);
        builder.Services.AddSingleton(new BrokerPlace(port.Endpoint));
        builder.Services.AddCourierBroker().Configure((services, o) => o with { Endpoint = services.GetRequiredService<BrokerPlace>().Endpoint });
        using var host = builder.Build();

        await host.StartAsync();

        Assert.Equal(port.Endpoint, host.Services.GetRequiredService<CourierBroker>().Endpoint);
        await host.StopAsync();
    }

    /// <summary>Where the broker binds, as a service: what a configure delegate reads from the container.</summary>
    public sealed record BrokerPlace(string Endpoint);

    [Fact]
    public async Task Hosted_worker_of_two_brokers_is_healthy_while_both_serve_it_and_degraded_when_one_stops()
    {
        await using var first = await TestBroker.StartAsync();
        var second = await TestBroker.StartAsync();
        await using var _ = second;
        var builder = Builder(new()
        {
            ["Courier:Worker:BrokerEndpoints:0"] = first.Endpoint,
            ["Courier:Worker:BrokerEndpoints:1"] = second.Endpoint,
            ["Courier:Worker:Name"] = "both",
        });
        builder.Services.AddCourierWorker(o => o with { HeartbeatInterval = TestBroker.Heartbeat, HeartbeatLiveness = TestBroker.Liveness })
            .Map("ledger", TestBroker.Tagged("ledger"));
        builder.Services.AddHealthChecks().AddCourierWorkerCheck();
        using var host = builder.Build();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        await host.StartAsync();

        // Asked of each broker it serves, not of BrokerEndpoint (the default tcp://127.0.0.1:5555, which it does not use).
        await Poll.UntilAsync(async () => (await health.CheckHealthAsync()).Status == HealthStatus.Healthy, TimeSpan.FromSeconds(30), "worker check healthy");
        await second.StopAsync();
        await Poll.UntilAsync(async () => (await health.CheckHealthAsync()).Status == HealthStatus.Degraded, TimeSpan.FromSeconds(30), "worker check degraded");

        var entry = (await health.CheckHealthAsync()).Entries["courier-worker"];
        Assert.Contains($"1 of 2 brokers serve ledger; no answer about service 'ledger' from broker {second.Endpoint}", entry.Description, StringComparison.Ordinal);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_hosted_workers_mappings_reach_the_broker_with_their_concurrency_prefetch_and_idempotence()
    {
        await using var broker = await TestBroker.StartAsync();
        var builder = Builder(new() { ["Courier:Worker:BrokerEndpoint"] = broker.Endpoint, ["Courier:Worker:Name"] = "mapped" });
        builder.Services.AddCourierWorker(o => o with { HeartbeatInterval = TestBroker.Heartbeat, HeartbeatLiveness = TestBroker.Liveness })
            .Map("ledger", TestBroker.Tagged("ledger"), concurrency: 2, idempotent: true, prefetch: 1)
            .Map("plain", TestBroker.Tagged("plain"), concurrency: 3);
        using var host = builder.Build();
        await host.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "ledger", 1);
        await TestBroker.WaitForWorkersAsync(client, "plain", 1);

        var workers = await client.RequestAsync("mmi.workers", "");
        using var json = JsonDocument.Parse(workers.Body);
        var ledger = json.RootElement.GetProperty("ledger")[0];
        var plain = json.RootElement.GetProperty("plain")[0];

        // Capacity is concurrency plus prefetch; the prefetch of "plain" is the options' default, capped at its concurrency.
        Assert.Equal((3, true), (ledger.GetProperty("capacity").GetInt32(), ledger.GetProperty("idempotent").GetBoolean()));
        Assert.Equal((6, false), (plain.GetProperty("capacity").GetInt32(), plain.GetProperty("idempotent").GetBoolean()));
        await host.StopAsync();
    }

    [Fact]
    public void A_hosted_mapping_with_a_negative_prefetch_is_refused_where_it_is_written()
    {
        var builder = Builder([]).Services.AddCourierWorker();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => builder.Map("ledger", TestBroker.Tagged("x"), prefetch: -1));

        Assert.Equal("prefetch", error.ParamName);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Host_shutdown_timeout_ends_a_longer_drain_and_the_caller_of_the_request_in_flight_is_told_its_outcome_is_unknown_unless_idempotent(bool idempotent)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = Builder(new() { ["Courier:Server:Endpoint"] = "tcp://127.0.0.1:*" });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1));
        builder.Services.AddCourierServer(o => o with { DrainTimeout = TimeSpan.FromMinutes(10) })
            .Map("hang", async (request, cancellationToken) =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return request.Frames;
            }, idempotent);
        builder.Services.AddHealthChecks().AddCourierServerCheck();
        using var host = builder.Build();
        await host.StartAsync();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
        await using var client = TestServer.Client(host.Services.GetRequiredService<CourierServer>().Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(10), Retries = 0 });
        var pending = client.RequestAsync("hang", "x");
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Far less than the 10 minute drain: the host's 1 s shutdown timeout ends it, well within the caller's 10 s.
        await host.StopAsync().WaitAsync(TimeSpan.FromMinutes(2));

        // Its handler had started: 520 unless the service is idempotent, which makes it a 503 that invites a retry.
        // The retries find no server (this was the only one): once its attempt runs out, the caller gets that 503.
        var error = await Record.ExceptionAsync(() => pending);
        if (idempotent)
        {
            Assert.Equal(CourierStatus.Unavailable, Assert.IsType<CourierRemoteException>(error).StatusCode);
        }
        else
        {
            Assert.IsType<CourierOutcomeUnknownException>(error);
        }

        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Status);
    }

    [Fact]
    public void Health_check_of_a_part_that_is_not_registered_says_what_to_add()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddHealthChecks().AddCourierWorkerCheck("inventory");
        using var provider = services.BuildServiceProvider();

        var registration = provider.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations.Single();
        var error = Assert.Throws<InvalidOperationException>(() => registration.Factory(provider));

        Assert.Equal("No Courier worker 'inventory' is registered: call AddCourierWorker(\"inventory\") first.", error.Message);
    }

    private static HostApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    /// <summary>Counts the scoped services made and disposed, to show one scope per request.</summary>
    public sealed class ScopeLedger
    {
        private int _created;
        private int _disposed;

        public int Created => Volatile.Read(ref _created);

        public int Disposed => Volatile.Read(ref _disposed);

        public void Create() => Interlocked.Increment(ref _created);

        public void Dispose() => Interlocked.Increment(ref _disposed);
    }

    /// <summary>A scoped dependency of the handler.</summary>
    public sealed class Shelf : IDisposable
    {
        private readonly ScopeLedger _ledger;

        public Shelf(ScopeLedger ledger)
        {
            _ledger = ledger;
            _ledger.Create();
        }

        public int Count(string sku) => _ledger.Created > 0 ? sku.Length : -1;

        public void Dispose() => _ledger.Dispose();
    }

    public sealed class StockHandler(Shelf shelf) : ICourierHandler<StockQuery, StockLevel>
    {
        public ValueTask<StockLevel> HandleAsync(StockQuery request, CancellationToken cancellationToken)
            => ValueTask.FromResult(new StockLevel(request.Sku, shelf.Count(request.Sku)));
    }
}
