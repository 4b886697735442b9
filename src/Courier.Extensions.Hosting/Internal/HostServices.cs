using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Extensions.Hosting.Internal;

/// <summary>The host's logger factory and clock, used where the options left theirs at the silent default.</summary>
internal static class HostServices
{
    public static ILoggerFactory Logging(ILoggerFactory configured, IServiceProvider provider)
        => ReferenceEquals(configured, NullLoggerFactory.Instance) ? provider.GetService<ILoggerFactory>() ?? configured : configured;

    public static TimeProvider Clock(TimeProvider configured, IServiceProvider provider)
        => ReferenceEquals(configured, TimeProvider.System) ? provider.GetService<TimeProvider>() ?? configured : configured;
}

/// <summary>The service key of a hosted part: <c>server:</c>, <c>worker:NAME</c>…</summary>
internal static class HostedPartKey
{
    public static string Of(string part, string name) => $"{part}:{name}";
}
