using Courier.Client;
using Courier.Extensions.Hosting.Health;
using Courier.Extensions.Hosting.Internal;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Health checks for Courier parts in the host (<c>services.AddHealthChecks().AddCourierServerCheck()</c>), for a
/// container's readiness probe: a server or broker is healthy while it runs (unhealthy before it starts and from the
/// moment it starts draining); a worker while it runs and each of its brokers has a worker for each of its services (degraded while only some do); a client
/// while its peer answers that it serves a given service.
/// </summary>
public static class CourierHealthChecksBuilderExtensions
{
    // RS0026: the checks' registration names, statuses and tags are optional and last, as in Microsoft's own AddCheck.
#pragma warning disable RS0026

    /// <summary>Healthy while the server registered by <c>AddCourierServer(serverName)</c> runs.</summary>
    public static IHealthChecksBuilder AddCourierServerCheck(this IHealthChecksBuilder builder, string? serverName = null, string name = "courier-server",
        HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
        => AddPartCheck(builder, "server", serverName, name, failureStatus, tags);

    /// <summary>
    /// Healthy while the worker registered by <c>AddCourierWorker(workerName)</c> runs and each of its brokers answers
    /// that it serves each of its services; degraded while only some of its brokers do. The queries go with the worker's
    /// transport and CURVE keys.
    /// </summary>
    public static IHealthChecksBuilder AddCourierWorkerCheck(this IHealthChecksBuilder builder, string? workerName = null, string name = "courier-worker",
        HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
        => AddPartCheck(builder, "worker", workerName, name, failureStatus, tags);

    /// <summary>Healthy while the broker registered by <c>AddCourierBroker</c> runs.</summary>
    public static IHealthChecksBuilder AddCourierBrokerCheck(this IHealthChecksBuilder builder, string name = "courier-broker",
        HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
        => AddPartCheck(builder, "broker", null, name, failureStatus, tags);

    /// <summary>
    /// Healthy while the peer of the client registered by <c>AddCourierClient(clientName)</c> answers that it serves
    /// <paramref name="service"/> (8/MMI <c>mmi.service</c>, through the client with its timeouts and retries).
    /// </summary>
    public static IHealthChecksBuilder AddCourierClientCheck(this IHealthChecksBuilder builder, string service, string? clientName = null, string name = "courier-client",
        HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(service);
        return builder.Add(new HealthCheckRegistration(name, provider =>
        {
            var client = string.IsNullOrEmpty(clientName) ? provider.GetRequiredService<ICourierClient>() : provider.GetRequiredKeyedService<ICourierClient>(clientName);
            return new DelegateCheck(cancellationToken => HealthProbe.ServedAsync(client, service, "the client's peer", cancellationToken));
        }, failureStatus, tags));
    }
#pragma warning restore RS0026

    private static IHealthChecksBuilder AddPartCheck(IHealthChecksBuilder builder, string part, string? partName, string name, HealthStatus? failureStatus, IEnumerable<string>? tags)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var key = HostedPartKey.Of(part, partName ?? "");
        return builder.Add(new HealthCheckRegistration(name, provider =>
        {
            var hosted = provider.GetKeyedService<HostedPart>(key)
                ?? throw new InvalidOperationException($"No Courier {part} {(string.IsNullOrEmpty(partName) ? "" : $"'{partName}' ")}is registered: call AddCourier{char.ToUpperInvariant(part[0])}{part[1..]}({(string.IsNullOrEmpty(partName) ? "" : $"\"{partName}\"")}) first.");
            return new DelegateCheck(hosted.CheckAsync);
        }, failureStatus, tags));
    }

    private sealed class DelegateCheck(Func<CancellationToken, Task<HealthCheckResult>> check) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) => check(cancellationToken);
    }
}
