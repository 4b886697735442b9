using Courier.Client;
using Courier.Worker;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Courier.Extensions.Hosting.Health;

/// <summary>What the health checks ask: 8/MMI <c>mmi.service</c>, which a Courier server or broker (and any 7/MDP broker) answers <c>200</c> for a service it serves.</summary>
internal static class HealthProbe
{
    public static HealthCheckResult Healthy(string description) => HealthCheckResult.Healthy(description);

    /// <summary>Asks through <paramref name="client"/> whether <paramref name="service"/> is served.</summary>
    public static async Task<HealthCheckResult> ServedAsync(ICourierClient client, string service, string where, CancellationToken cancellationToken)
    {
        try
        {
            using var reply = await client.RequestAsync("mmi.service", service, cancellationToken).ConfigureAwait(false);
            var answer = reply.BodyText;
            return answer == "200"
                ? HealthCheckResult.Healthy($"service '{service}' is served at {where}")
                : HealthCheckResult.Unhealthy($"service '{service}' is not served at {where} (mmi.service answered {answer})");
        }
        catch (CourierException ex)
        {
            return HealthCheckResult.Unhealthy($"no answer about service '{service}' from {where}: {ex.Message}", ex);
        }
    }

    /// <summary>A worker is healthy while its broker answers and has a worker for each of its services.</summary>
    public static async Task<HealthCheckResult> BrokerServesAsync(CourierWorkerOptions options, IReadOnlyList<string> services, CancellationToken cancellationToken)
    {
        // A short-lived plain 7/MDP client: one query per service, no retries, in the worker's transport.
        var client = new CourierClient(CourierClientOptions.Default with
        {
            Endpoints = [options.BrokerEndpoint],
            Timeout = TimeSpan.FromSeconds(2),
            Retries = 0,
            Protocol = ClientProtocol.Mdp,
            Transport = options.Transport,
            LoggerFactory = options.LoggerFactory,
        });
        await using (client.ConfigureAwait(false))
        {
            foreach (var service in services)
            {
                var result = await ServedAsync(client, service, $"broker {options.BrokerEndpoint}", cancellationToken).ConfigureAwait(false);
                if (result.Status != HealthStatus.Healthy)
                {
                    return result;
                }
            }
        }

        return HealthCheckResult.Healthy($"broker {options.BrokerEndpoint} serves {string.Join(", ", services)}");
    }
}
