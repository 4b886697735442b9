using System.Diagnostics;
using System.Reflection;

namespace Courier.Diagnostics.Internal;

/// <summary>
/// The one <see cref="ActivitySource"/> (<c>Courier</c>): a Client span per request, a Server span per handling (server or
/// worker) and one per request in a broker. Spans are made only when a listener samples them; none ever becomes
/// <see cref="Activity.Current"/> on a loop thread.
/// </summary>
internal static class CourierTracing
{
    public static readonly ActivitySource Source = new(
        CourierDiagnostics.ActivitySourceName,
        typeof(CourierTracing).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

    /// <summary>A client's span for a request to <paramref name="service"/>, child of the caller's current activity; the caller's current activity is left as it was.</summary>
    public static Activity? StartClient(string service)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var caller = Activity.Current;
        var activity = Source.StartActivity(service, ActivityKind.Client);
        if (activity is null)
        {
            return null;
        }

        Activity.Current = caller;
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(CourierMetrics.SystemNameTag, CourierMetrics.SystemName);
            activity.SetTag(CourierMetrics.MethodTag, service);
        }

        return activity;
    }

    /// <summary>
    /// A Server span for handling a request (in a server, a worker or a broker), child of
    /// <paramref name="parent"/> (from the request's trace context) or a root. Not made current: the caller decides where.
    /// </summary>
    public static Activity? StartHandling(string service, string role, ActivityContext parent)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var previous = Activity.Current;
        Activity.Current = null; // a loop thread's leftover must not become the parent
        var activity = Source.StartActivity(service, ActivityKind.Server, parent);
        Activity.Current = previous;
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(CourierMetrics.SystemNameTag, CourierMetrics.SystemName);
            activity.SetTag(CourierMetrics.MethodTag, service);
            activity.SetTag(CourierMetrics.RoleTag, role);
        }

        return activity;
    }

    /// <summary>Ends a span with the status a request came to; the thread's current activity stays what it was.</summary>
    public static void Stop(Activity activity, int status, string? errorType = null)
    {
        if (activity.IsAllDataRequested)
        {
            if (status > 0)
            {
                activity.SetTag(CourierMetrics.StatusTag, StatusText.Of(status));
            }

            if (errorType is not null || status is >= 400 or < 0)
            {
                activity.SetTag(CourierMetrics.ErrorTypeTag, errorType ?? StatusText.Of(status));
                activity.SetStatus(ActivityStatusCode.Error);
            }
        }

        var current = Activity.Current;
        activity.Stop();
        Activity.Current = ReferenceEquals(current, activity) ? null : current;
    }
}
