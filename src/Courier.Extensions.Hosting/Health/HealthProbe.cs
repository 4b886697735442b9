using System.Globalization;
using Courier.Client;
using Courier.Security;
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
                : HealthCheckResult.Unhealthy($"service '{service}' is not served at {where} (mmi.service answered {Shown(answer)})");
        }
        catch (CourierException ex)
        {
            // Not the exception itself: the health service logs a result's exception, and its message is the peer's words
            // as they came (a remote error's text); the description quotes them shown safe.
            return HealthCheckResult.Unhealthy($"no answer about service '{service}' from {where}: {ex.GetType().Name}: {Shown(ex.Message)}");
        }
    }

    /// <summary>Characters of a peer's text a description quotes.</summary>
    internal const int MaxQuoted = 256;

    /// <summary>
    /// A peer's text (an MMI answer, a remote error) as a description quotes it: descriptions are logged and served by
    /// health endpoints, and the peer picks the text: controls and format characters (bidi overrides, line breaks) as
    /// <c>?</c>, at most <see cref="MaxQuoted"/> characters. (Courier's own LogText does the same for its logs; it is
    /// internal to that package, and this one may run beside another version of it.)
    /// </summary>
    internal static string Shown(string text)
    {
        var shown = new System.Text.StringBuilder(Math.Min(text.Length, MaxQuoted));
        foreach (var rune in text.EnumerateRunes())
        {
            if (shown.Length >= MaxQuoted)
            {
                return $"{shown}… ({text.Length} characters)";
            }

            var category = System.Text.Rune.GetUnicodeCategory(rune);
            var printable = rune != System.Text.Rune.ReplacementChar && category is not (UnicodeCategory.Control or UnicodeCategory.Format
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator);
            shown.Append(printable ? rune.ToString() : "?");
        }

        return shown.ToString();
    }

    /// <summary>
    /// A worker is healthy while each of its brokers answers and has a worker for each of its services; degraded while
    /// only some do (it still serves through those), unhealthy when none does.
    /// </summary>
    public static async Task<HealthCheckResult> BrokerServesAsync(CourierWorkerOptions options, IReadOnlyList<string> services, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> brokers = options.BrokerEndpoints.Count > 0 ? options.BrokerEndpoints : [options.BrokerEndpoint];
        var failures = new List<HealthCheckResult>();
        foreach (var broker in brokers)
        {
            var result = await OneBrokerServesAsync(options, broker, services, cancellationToken).ConfigureAwait(false);
            if (result.Status != HealthStatus.Healthy)
            {
                failures.Add(result);
            }
        }

        var served = string.Join(", ", services);
        if (failures.Count == 0)
        {
            return HealthCheckResult.Healthy($"{(brokers.Count == 1 ? "broker" : "brokers")} {string.Join(", ", brokers)} serve {served}");
        }

        var why = string.Join("; ", failures.Select(f => f.Description));
        return failures.Count < brokers.Count
            ? HealthCheckResult.Degraded($"{brokers.Count - failures.Count} of {brokers.Count} brokers serve {served}; {why}")
            : HealthCheckResult.Unhealthy(why);
    }

    private static async Task<HealthCheckResult> OneBrokerServesAsync(CourierWorkerOptions options, string broker, IReadOnlyList<string> services, CancellationToken cancellationToken)
    {
        // A short-lived plain 7/MDP client per broker (one of several endpoints would spread the queries over them): one
        // query per service, no retries, in the worker's transport and with its keys, which a CURVE broker admits.
        var client = new CourierClient(CourierClientOptions.Default with
        {
            Endpoints = [broker],
            Timeout = TimeSpan.FromSeconds(2),
            Retries = 0,
            Protocol = ClientProtocol.Mdp,
            Transport = options.Transport,
            Security = CourierSecurityOptions.Default with
            {
                CertificateFile = options.Security.CertificateFile,
                ServerCertificateFile = options.Security.ServerCertificateFile,
            },
            LoggerFactory = options.LoggerFactory,
        });
        await using (client.ConfigureAwait(false))
        {
            foreach (var service in services)
            {
                var result = await ServedAsync(client, service, $"broker {broker}", cancellationToken).ConfigureAwait(false);
                if (result.Status != HealthStatus.Healthy)
                {
                    return result;
                }
            }
        }

        return HealthCheckResult.Healthy($"broker {broker} serves {string.Join(", ", services)}");
    }
}
