"""Questions of the physical-ai-textbook the benchmarks ask (each the start of a new chat)."""

QUESTIONS = [
    "What is a ROS 2 node?",
    "How do topics differ from services in ROS 2?",
    "What does a URDF file describe?",
    "How does a humanoid robot keep its balance while walking?",
    "What is the zero moment point?",
    "How do I launch several nodes at once?",
    "What sensors does a humanoid robot use to perceive its surroundings?",
    "What is Isaac Sim used for?",
    "How does Gazebo simulate physics?",
    "What is a vision-language-action model?",
]
