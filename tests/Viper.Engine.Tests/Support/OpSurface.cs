using System.Reflection;
using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>Every op a backend offers: the core <see cref="IBackend"/> and the capability groups models ask for.</summary>
public static class OpSurface
{
    public static IReadOnlyList<Type> Interfaces { get; } = [typeof(IBackend), typeof(IDecodingOps), typeof(IDiffusionOps), typeof(ITrainingOps)];

    public static IEnumerable<MethodInfo> Methods => Interfaces.SelectMany(i => i.GetMethods());
}
