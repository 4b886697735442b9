using Courier.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Courier.Tests.Security;

/// <summary>Hosted parts with CURVE (native transport only, like the rest of Security/).</summary>
public sealed class CurveHostingTests : IDisposable
{
    private readonly Keys _keys = new Keys().Generate("worker", allow: true);

    public void Dispose() => _keys.Dispose();

    [Fact]
    public async Task Hosted_worker_with_curve_reports_healthy_against_its_curve_broker()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { Security = _keys.Listener() });
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddCourierWorker(o => o with
        {
            BrokerEndpoint = broker.Endpoint!,
            HeartbeatInterval = TestBroker.Heartbeat,
            HeartbeatLiveness = TestBroker.Liveness,
            Security = _keys.Connector("worker"),
        }).Map("sealed", TestBroker.Tagged("sealed"));
        builder.Services.AddHealthChecks().AddCourierWorkerCheck();
        using var host = builder.Build();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        await host.StartAsync();

        // The check asks the broker with the worker's own keys: a plain-text query would never be admitted.
        await Poll.UntilAsync(async () => (await health.CheckHealthAsync()).Status == HealthStatus.Healthy, TimeSpan.FromSeconds(30), "worker check healthy");

        await host.StopAsync();
    }
}
